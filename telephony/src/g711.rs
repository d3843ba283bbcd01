//! ITU-T G.711: 16-bit linear PCM to and from 8-bit µ-law (PCMU, RTP payload type 0) and
//! A-law (PCMA, payload type 8).
//!
//! Decoding is a lookup in a 256-entry table built at compile time by a `const fn`. Encoding
//! finds the segment with `leading_zeros` instead of the classic eight-step search, which keeps
//! it branch-light; the tests hold it, for all 65,536 inputs, to the reference algorithm of the
//! widely used Sun Microsystems `g711.c` (µ-law: bias 0x84, clip 32635 on the full 16-bit
//! value; A-law: the 13-bit form, `pcm >> 3`). Getting one bit of this wrong is easy and
//! silent (a shipped Rust codec produced non-standard µ-law codes for about 12 % of inputs), so
//! the exhaustive comparison is the invariant this file protects.

/// The µ-law encoder adds this bias so that every magnitude has a set bit in the segment range.
const ULAW_BIAS: u32 = 0x84;
/// Largest magnitude the µ-law encoder represents; larger ones saturate to the top code.
const ULAW_CLIP: u32 = 32_635;

/// One of the two G.711 companding laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law, `PCMU` in SDP, static RTP payload type 0 (North America, Japan).
    Ulaw,
    /// A-law, `PCMA` in SDP, static RTP payload type 8 (most of the rest of the world).
    Alaw,
}

impl Law {
    /// The static RTP payload type of this law (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The law whose static RTP payload type is `pt`, if any.
    pub const fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Ulaw),
            8 => Some(Law::Alaw),
            _ => None,
        }
    }

    /// The encoding name used in SDP `a=rtpmap` lines: `PCMU` or `PCMA`.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }

    /// The law named by an SDP encoding name (`PCMU`/`PCMA`, any case).
    pub fn from_encoding_name(name: &str) -> Option<Law> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Law::Ulaw)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Law::Alaw)
        } else {
            None
        }
    }

    /// The code of digital silence: the encoding of sample 0 (µ-law 0xFF, A-law 0xD5).
    pub const fn silence(self) -> u8 {
        match self {
            Law::Ulaw => 0xFF,
            Law::Alaw => 0xD5,
        }
    }

    /// Encodes one linear sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => ulaw_encode(sample),
            Law::Alaw => alaw_encode(sample),
        }
    }

    /// Decodes one code to a linear sample.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_decode(code),
            Law::Alaw => alaw_decode(code),
        }
    }

    /// Encodes a run of linear samples, one code per sample.
    pub fn encode_samples(self, samples: &[i16]) -> Vec<u8> {
        samples.iter().map(|&s| self.encode(s)).collect()
    }

    /// Decodes a run of codes, one sample per code.
    pub fn decode_bytes(self, codes: &[u8]) -> Vec<i16> {
        let table = match self {
            Law::Ulaw => &ULAW_TO_LINEAR,
            Law::Alaw => &ALAW_TO_LINEAR,
        };
        codes.iter().map(|&c| table[usize::from(c)]).collect()
    }
}

/// Linear value of every µ-law code, indexed by the code.
pub static ULAW_TO_LINEAR: [i16; 256] = ulaw_table();
/// Linear value of every A-law code, indexed by the code.
pub static ALAW_TO_LINEAR: [i16; 256] = alaw_table();

/// Encodes a 16-bit linear sample as µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let sign: u32 = if sample < 0 { 0x80 } else { 0 };
    // 132 ..= 32767: bit 7 is the lowest possible leading bit, bit 14 the highest.
    let magnitude = u32::from(sample.unsigned_abs()).min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = (31 - magnitude.leading_zeros()) - 7;
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    // Codes are transmitted inverted (all ones = silence), which `!` on the low byte does.
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Decodes a µ-law code to a 16-bit linear sample.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TO_LINEAR[usize::from(code)]
}

/// Encodes a 16-bit linear sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13 bits; the three low bits of the sample cannot change the code.
    let value = i32::from(sample) >> 3;
    let (mask, magnitude) = if value >= 0 {
        (0xD5_u8, value.unsigned_abs())
    } else {
        // One's complement rather than negation: -1 >> 3 == -1 maps to magnitude 0.
        (0x55_u8, (-value - 1).unsigned_abs())
    };
    // magnitude is 0 ..= 4095: segment 0 below 32, else one segment per further bit.
    let segment = if magnitude < 0x20 {
        0
    } else {
        (31 - magnitude.leading_zeros()) - 4
    };
    let mantissa = (magnitude >> segment.max(1)) & 0x0F;
    ((segment << 4) | mantissa) as u8 ^ mask
}

/// Decodes an A-law code to a 16-bit linear sample.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

const fn ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0usize;
    while code < 256 {
        let u = !(code as u8);
        let exponent = (u >> 4) & 0x07;
        let mantissa = (u & 0x0F) as i32;
        // The middle of the quantisation interval, with the encoder's bias taken back out.
        let magnitude = (((mantissa << 3) + ULAW_BIAS as i32) << exponent) - ULAW_BIAS as i32;
        table[code] = if u & 0x80 != 0 {
            -magnitude as i16
        } else {
            magnitude as i16
        };
        code += 1;
    }
    table
}

const fn alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0usize;
    while code < 256 {
        // Even bits are inverted on the wire (0x55) so that silence is not all zeros.
        let a = (code as u8) ^ 0x55;
        let segment = (a >> 4) & 0x07;
        let mantissa = (a & 0x0F) as i32;
        let magnitude = if segment == 0 {
            (mantissa << 4) + 8
        } else {
            ((mantissa << 4) + 0x108) << (segment - 1)
        };
        // In A-law a set sign bit means positive.
        table[code] = if a & 0x80 != 0 {
            magnitude as i16
        } else {
            -magnitude as i16
        };
        code += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- Reference: Sun Microsystems g711.c, transcribed as literally as Rust allows. ----

    const SEG_END: [i32; 8] = [0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF];
    const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

    fn search(val: i32, table: &[i32; 8]) -> i32 {
        for (i, &end) in table.iter().enumerate() {
            if val <= end {
                return i as i32;
            }
        }
        8
    }

    fn ref_linear2ulaw(pcm: i16) -> u8 {
        const BIAS: i32 = 0x84;
        const CLIP: i32 = 32635;
        let mut pcm_val = i32::from(pcm);
        let mask: i32;
        if pcm_val < 0 {
            pcm_val = -pcm_val;
            mask = 0x7F;
        } else {
            mask = 0xFF;
        }
        if pcm_val > CLIP {
            pcm_val = CLIP;
        }
        pcm_val += BIAS;
        let seg = search(pcm_val, &SEG_END);
        if seg >= 8 {
            (0x7F ^ mask) as u8
        } else {
            let uval = (seg << 4) | ((pcm_val >> (seg + 3)) & 0xF);
            (uval ^ mask) as u8
        }
    }

    fn ref_ulaw2linear(u_val: u8) -> i16 {
        const BIAS: i32 = 0x84;
        let u = i32::from(!u_val);
        let mut t = ((u & 0x0F) << 3) + BIAS;
        t <<= (u & 0x70) >> 4;
        (if u & 0x80 != 0 { BIAS - t } else { t - BIAS }) as i16
    }

    fn ref_linear2alaw(pcm: i16) -> u8 {
        let mut pcm_val = i32::from(pcm) >> 3;
        let mask: i32;
        if pcm_val >= 0 {
            mask = 0xD5;
        } else {
            mask = 0x55;
            pcm_val = -pcm_val - 1;
        }
        let seg = search(pcm_val, &SEG_AEND);
        if seg >= 8 {
            (0x7F ^ mask) as u8
        } else {
            let mut aval = seg << 4;
            if seg < 2 {
                aval |= (pcm_val >> 1) & 0x0F;
            } else {
                aval |= (pcm_val >> seg) & 0x0F;
            }
            (aval ^ mask) as u8
        }
    }

    fn ref_alaw2linear(a_val: u8) -> i16 {
        let a = i32::from(a_val ^ 0x55);
        let mut t = (a & 0x0F) << 4;
        let seg = (a & 0x70) >> 4;
        match seg {
            0 => t += 8,
            1 => t += 0x108,
            _ => {
                t += 0x108;
                t <<= seg - 1;
            }
        }
        (if a & 0x80 != 0 { t } else { -t }) as i16
    }

    // ---- Exhaustive comparisons. ----

    #[test]
    fn ulaw_encoder_matches_the_reference_for_every_sample() {
        let mut mismatches = 0u32;
        for s in i16::MIN..=i16::MAX {
            if ulaw_encode(s) != ref_linear2ulaw(s) {
                mismatches += 1;
            }
        }
        assert_eq!(mismatches, 0);
    }

    #[test]
    fn alaw_encoder_matches_the_reference_for_every_sample() {
        let mut mismatches = 0u32;
        for s in i16::MIN..=i16::MAX {
            if alaw_encode(s) != ref_linear2alaw(s) {
                mismatches += 1;
            }
        }
        assert_eq!(mismatches, 0);
    }

    #[test]
    fn decode_tables_match_the_reference_for_every_code() {
        for c in 0..=255u8 {
            assert_eq!(ulaw_decode(c), ref_ulaw2linear(c), "µ-law code {c:#04x}");
            assert_eq!(alaw_decode(c), ref_alaw2linear(c), "A-law code {c:#04x}");
        }
    }

    #[test]
    fn decoding_a_reencoded_code_gives_the_same_sample() {
        for law in [Law::Ulaw, Law::Alaw] {
            for c in 0..=255u8 {
                let x = law.decode(c);
                assert_eq!(law.decode(law.encode(x)), x, "{law:?} code {c:#04x}");
            }
        }
    }

    #[test]
    fn a_law_codes_survive_a_decode_encode_round_trip() {
        // A-law has no negative zero, so every code is the encoding of its own value.
        for c in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(c)), c, "code {c:#04x}");
        }
    }

    #[test]
    fn quantisation_is_monotonic() {
        for law in [Law::Ulaw, Law::Alaw] {
            let mut previous = i16::MIN;
            for s in i16::MIN..=i16::MAX {
                let q = law.decode(law.encode(s));
                assert!(q >= previous, "{law:?} at {s}: {q} < {previous}");
                previous = q;
            }
        }
    }

    #[test]
    fn known_values_from_the_standard_tables() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
    }

    #[test]
    fn silence_is_the_encoding_of_zero() {
        for law in [Law::Ulaw, Law::Alaw] {
            assert_eq!(law.encode(0), law.silence());
        }
    }

    #[test]
    fn slice_helpers_agree_with_the_scalar_functions() {
        let samples: Vec<i16> = (-40..40).map(|i| i * 800).collect();
        for law in [Law::Ulaw, Law::Alaw] {
            let codes = law.encode_samples(&samples);
            assert_eq!(codes.len(), samples.len());
            let back = law.decode_bytes(&codes);
            for ((&s, &c), &b) in samples.iter().zip(&codes).zip(&back) {
                assert_eq!(c, law.encode(s));
                assert_eq!(b, law.decode(c));
            }
        }
    }

    #[test]
    fn names_and_payload_types_round_trip() {
        for law in [Law::Ulaw, Law::Alaw] {
            assert_eq!(Law::from_payload_type(law.payload_type()), Some(law));
            assert_eq!(Law::from_encoding_name(law.encoding_name()), Some(law));
            assert_eq!(
                Law::from_encoding_name(&law.encoding_name().to_lowercase()),
                Some(law)
            );
        }
        assert_eq!(Law::from_payload_type(18), None);
        assert_eq!(Law::from_encoding_name("G729"), None);
    }
}
