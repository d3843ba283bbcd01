//! RIFF WAVE files as telephony uses them: 8 kHz mono G.711 (format 7 µ-law, format 6
//! A-law) or 16-bit linear PCM (format 1), read from bytes; G.711 and PCM files written.
//!
//! Playback (`<Play>`) reads a file into G.711 bytes that go straight into RTP packets, and
//! tests write what a peer sent into a file that sox, soxi or a listener can open. Anything
//! else (stereo, 16 kHz, float, MP3 in a RIFF container, …) is refused with a [`WavError`]
//! that names the offending property, so a caller can tell a user what to convert
//! (`sox in.wav -r 8000 -c 1 -e u-law out.wav`). Every length read from the file is checked
//! against the bytes actually present: truncated or hostile files give an error, never a
//! panic, and never make the reader allocate more than the input's size.

use crate::g711::Law;

/// `wFormatTag` of linear PCM.
pub const FORMAT_PCM: u16 = 1;
/// `wFormatTag` of ITU G.711 A-law.
pub const FORMAT_ALAW: u16 = 6;
/// `wFormatTag` of ITU G.711 µ-law.
pub const FORMAT_MULAW: u16 = 7;
/// `wFormatTag` saying the real format is in the extension's sub-format GUID.
pub const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// The only sample rate accepted and written.
pub const SAMPLE_RATE: u32 = 8000;

/// The last 14 bytes shared by every `KSDATAFORMAT_SUBTYPE_*` GUID derived from a
/// format tag (`XXXXXXXX-0000-0010-8000-00AA00389B71`, little-endian fields).
const SUBFORMAT_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Why bytes are not a WAV file this module can read, or audio cannot be written as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// The file does not start with `RIFF`…`WAVE`.
    #[error("not a WAV file: it does not start with a RIFF/WAVE header")]
    NotWave,
    /// The file ends inside a header or chunk.
    #[error("WAV file truncated: the {what} needs {needed} bytes at offset {offset}, but the file has {len}")]
    Truncated {
        /// Which structure was cut: `RIFF header`, `chunk header`, `fmt chunk`, `data chunk`.
        what: &'static str,
        /// Where the structure starts.
        offset: usize,
        /// Bytes the structure needs from `offset`.
        needed: usize,
        /// Length of the file.
        len: usize,
    },
    /// No `fmt ` chunk.
    #[error("WAV file has no fmt chunk describing its audio")]
    MissingFormat,
    /// No `data` chunk.
    #[error("WAV file has no data chunk")]
    MissingData,
    /// The `fmt ` chunk is too short for the fields it must hold.
    #[error("WAV fmt chunk is {0} bytes; it needs at least 16 (40 for WAVE_FORMAT_EXTENSIBLE)")]
    ShortFormat(usize),
    /// The encoding is neither PCM, A-law nor µ-law.
    #[error("unsupported WAV encoding (format tag {0:#06x}); only 16-bit PCM (1), A-law (6) and µ-law (7) are supported")]
    UnsupportedFormat(u16),
    /// More than one channel.
    #[error("WAV file has {0} channels; only mono is supported")]
    NotMono(u16),
    /// A `fmt ` chunk that claims no channels.
    #[error("WAV file claims 0 channels")]
    NoChannels,
    /// A sample rate of 0 or above [`MAX_DECODE_RATE`].
    #[error("WAV sample rate {0} Hz is not a usable rate (1 to 384000 Hz)")]
    BadSampleRate(u32),
    /// A sample rate other than 8000 Hz.
    #[error("WAV sample rate is {0} Hz; only 8000 Hz is supported")]
    UnsupportedSampleRate(u32),
    /// A sample size that does not fit the encoding.
    #[error("{encoding} WAV file has {bits} bits per sample; {expected} are required")]
    UnsupportedBitsPerSample {
        /// `PCM`, `A-law` or `µ-law`.
        encoding: &'static str,
        /// Bits per sample in the file.
        bits: u16,
        /// Bits per sample this encoding needs.
        expected: u16,
    },
    /// A 16-bit PCM data chunk with an odd length.
    #[error("PCM data chunk of {0} bytes is not a whole number of 16-bit samples")]
    OddPcmLength(usize),
    /// Audio too long for the 32-bit sizes of RIFF.
    #[error("{0} bytes of audio do not fit in a WAV file (4 GiB limit)")]
    TooLong(usize),
}

/// The audio of a WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WavAudio {
    /// G.711 codes, ready for RTP with the matching payload type.
    G711 {
        /// Which law the codes use.
        law: Law,
        /// One code per sample.
        data: Vec<u8>,
    },
    /// 16-bit linear samples.
    Pcm16(Vec<i16>),
}

impl WavAudio {
    /// The audio as G.711 codes of `law`, transcoding through linear PCM when the file
    /// holds the other law or PCM.
    pub fn to_g711(&self, law: Law) -> Vec<u8> {
        match self {
            WavAudio::G711 { law: l, data } if *l == law => data.clone(),
            WavAudio::G711 { law: l, data } => {
                data.iter().map(|&c| law.encode(l.decode(c))).collect()
            }
            WavAudio::Pcm16(samples) => law.encode_samples(samples),
        }
    }

    /// Number of samples (8000 per second).
    pub fn sample_count(&self) -> usize {
        match self {
            WavAudio::G711 { data, .. } => data.len(),
            WavAudio::Pcm16(samples) => samples.len(),
        }
    }
}

/// The fields of a `fmt ` chunk this module looks at.
struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    bits_per_sample: u16,
}

/// The `fmt ` and `data` chunks of a RIFF/WAVE file, every length checked against `bytes`.
/// With `streamed_data`, a `data` chunk that claims more bytes than the file has is the rest
/// of the file: a writer to a pipe (espeak-ng `--stdout`) cannot go back to fill the size in.
fn chunks(bytes: &[u8], streamed_data: bool) -> Result<(Format, &[u8]), WavError> {
    let riff = bytes.get(..12).ok_or_else(|| {
        // A short prefix of a real header is a truncated file; anything else is not a WAV.
        let prefix_ok = bytes.iter().zip(b"RIFF").all(|(a, b)| a == b);
        if prefix_ok {
            WavError::Truncated {
                what: "RIFF header",
                offset: 0,
                needed: 12,
                len: bytes.len(),
            }
        } else {
            WavError::NotWave
        }
    })?;
    if &riff[..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }

    // The RIFF size field is ignored: streaming writers leave it 0 or 0xFFFFFFFF.
    let mut format: Option<Format> = None;
    let mut data: Option<&[u8]> = None;
    let mut offset = 12;
    while format.is_none() || data.is_none() {
        if offset >= bytes.len() {
            break;
        }
        let header = bytes.get(offset..offset + 8).ok_or(WavError::Truncated {
            what: "chunk header",
            offset,
            needed: 8,
            len: bytes.len(),
        })?;
        let id = &header[..4];
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let size = usize::try_from(size).map_err(|_| WavError::TooLong(usize::MAX))?;
        let body_start = offset + 8;
        let body_end = body_start
            .checked_add(size)
            .ok_or(WavError::TooLong(size))?;
        let what = match id {
            b"fmt " => "fmt chunk",
            b"data" => "data chunk",
            _ => "chunk",
        };
        let body_end = if streamed_data && id == b"data" {
            body_end.min(bytes.len())
        } else {
            body_end
        };
        let body = bytes.get(body_start..body_end).ok_or(WavError::Truncated {
            what,
            offset,
            needed: 8 + size,
            len: bytes.len(),
        })?;
        match id {
            b"fmt " if format.is_none() => format = Some(parse_format(body)?),
            b"data" if data.is_none() => data = Some(body),
            _ => {}
        }
        // Chunks are word-aligned: an odd-sized chunk is followed by a pad byte.
        offset = body_end + (size & 1);
    }

    let format = format.ok_or(WavError::MissingFormat)?;
    let data = data.ok_or(WavError::MissingData)?;
    Ok((format, data))
}

/// Reads a WAV file: 8 kHz mono µ-law, A-law or 16-bit PCM.
pub fn read(bytes: &[u8]) -> Result<WavAudio, WavError> {
    let (format, data) = chunks(bytes, false)?;
    if format.channels != 1 {
        return Err(WavError::NotMono(format.channels));
    }
    if format.sample_rate != SAMPLE_RATE {
        return Err(WavError::UnsupportedSampleRate(format.sample_rate));
    }
    let (encoding, expected_bits) = match format.tag {
        FORMAT_PCM => ("PCM", 16),
        FORMAT_ALAW => ("A-law", 8),
        FORMAT_MULAW => ("µ-law", 8),
        other => return Err(WavError::UnsupportedFormat(other)),
    };
    if format.bits_per_sample != expected_bits {
        return Err(WavError::UnsupportedBitsPerSample {
            encoding,
            bits: format.bits_per_sample,
            expected: expected_bits,
        });
    }
    match format.tag {
        FORMAT_ALAW => Ok(WavAudio::G711 {
            law: Law::Alaw,
            data: data.to_vec(),
        }),
        FORMAT_MULAW => Ok(WavAudio::G711 {
            law: Law::Ulaw,
            data: data.to_vec(),
        }),
        _ => {
            if data.len() % 2 != 0 {
                return Err(WavError::OddPcmLength(data.len()));
            }
            Ok(WavAudio::Pcm16(
                data.chunks_exact(2)
                    .map(|s| i16::from_le_bytes([s[0], s[1]]))
                    .collect(),
            ))
        }
    }
}

/// `wFormatTag` of IEEE float samples.
pub const FORMAT_FLOAT: u16 = 3;
/// The highest sample rate [`decode`] accepts (a wider claim is a corrupt header).
pub const MAX_DECODE_RATE: u32 = 384_000;

/// A WAV file's audio as 16-bit linear samples at the file's own rate and channel count
/// (interleaved), for a caller that resamples and downmixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedWav {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Channels, interleaved in `samples`.
    pub channels: u16,
    /// Interleaved samples, whole frames only.
    pub samples: Vec<i16>,
}

/// Reads a WAV file at any rate and channel count: µ-law, A-law, 8-, 16- or 24-bit PCM, or
/// 32-bit float, as 16-bit linear samples. A trailing partial frame is dropped (a writer cut
/// off mid-frame), and a `data` chunk longer than the file is its rest (a streamed file),
/// unlike [`read`], which holds 8 kHz files to whole samples and exact sizes.
pub fn decode(bytes: &[u8]) -> Result<DecodedWav, WavError> {
    let (format, data) = chunks(bytes, true)?;
    if format.channels == 0 {
        return Err(WavError::NoChannels);
    }
    if format.sample_rate == 0 || format.sample_rate > MAX_DECODE_RATE {
        return Err(WavError::BadSampleRate(format.sample_rate));
    }
    let bits = format.bits_per_sample;
    let (encoding, expected): (&'static str, &[u16]) = match format.tag {
        FORMAT_PCM => ("PCM", &[8, 16, 24]),
        FORMAT_FLOAT => ("float", &[32]),
        FORMAT_ALAW => ("A-law", &[8]),
        FORMAT_MULAW => ("µ-law", &[8]),
        other => return Err(WavError::UnsupportedFormat(other)),
    };
    if !expected.contains(&bits) {
        return Err(WavError::UnsupportedBitsPerSample {
            encoding,
            bits,
            expected: expected[expected.len() - 1],
        });
    }
    let width = usize::from(bits / 8);
    let frame = width * usize::from(format.channels);
    let whole = &data[..data.len() - data.len() % frame];
    let samples = whole
        .chunks_exact(width)
        .map(|b| match (format.tag, b) {
            (FORMAT_ALAW, [c]) => Law::Alaw.decode(*c),
            (FORMAT_MULAW, [c]) => Law::Ulaw.decode(*c),
            // 8-bit PCM is unsigned with 128 as zero.
            (_, [c]) => (i16::from(*c) - 128) << 8,
            (_, [lo, hi]) => i16::from_le_bytes([*lo, *hi]),
            // 24-bit: keep the top 16 bits.
            (_, [_, mid, hi]) => i16::from_le_bytes([*mid, *hi]),
            (_, [a, b, c, d]) => float_to_i16(f32::from_le_bytes([*a, *b, *c, *d])),
            _ => 0,
        })
        .collect();
    Ok(DecodedWav {
        sample_rate: format.sample_rate,
        channels: format.channels,
        samples,
    })
}

/// A float sample (full scale ±1.0) as 16-bit, clipped; NaN is silence.
fn float_to_i16(x: f32) -> i16 {
    if x.is_nan() {
        return 0;
    }
    // The clamp keeps the product inside i16, so the cast only drops the fraction.
    (x.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn parse_format(body: &[u8]) -> Result<Format, WavError> {
    let [t0, t1, c0, c1, r0, r1, r2, r3, _, _, _, _, _, _, b0, b1, ..] = *body else {
        return Err(WavError::ShortFormat(body.len()));
    };
    let mut tag = u16::from_le_bytes([t0, t1]);
    if tag == FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) subFormat GUID(16) after the 16 basic bytes.
        let guid = body.get(24..40).ok_or(WavError::ShortFormat(body.len()))?;
        if guid[2..] != SUBFORMAT_GUID_TAIL {
            return Err(WavError::UnsupportedFormat(FORMAT_EXTENSIBLE));
        }
        tag = u16::from_le_bytes([guid[0], guid[1]]);
    }
    Ok(Format {
        tag,
        channels: u16::from_le_bytes([c0, c1]),
        sample_rate: u32::from_le_bytes([r0, r1, r2, r3]),
        bits_per_sample: u16::from_le_bytes([b0, b1]),
    })
}

/// Writes G.711 codes as an 8 kHz mono WAV (format 6 or 7) with the `cbSize` field and
/// `fact` chunk that non-PCM WAV files formally need (58-byte header).
pub fn write_g711(law: Law, data: &[u8]) -> Result<Vec<u8>, WavError> {
    let tag = match law {
        Law::Ulaw => FORMAT_MULAW,
        Law::Alaw => FORMAT_ALAW,
    };
    let samples = u32::try_from(data.len()).map_err(|_| WavError::TooLong(data.len()))?;
    let mut fmt = Vec::with_capacity(18);
    push_basic_format(&mut fmt, tag, 8);
    fmt.extend_from_slice(&0u16.to_le_bytes()); // cbSize: no extra format bytes
    riff(&[
        (*b"fmt ", &fmt),
        (*b"fact", &samples.to_le_bytes()),
        (*b"data", data),
    ])
}

/// Writes 16-bit samples as an 8 kHz mono PCM WAV (44-byte header).
pub fn write_pcm16(samples: &[i16]) -> Result<Vec<u8>, WavError> {
    let mut fmt = Vec::with_capacity(16);
    push_basic_format(&mut fmt, FORMAT_PCM, 16);
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    riff(&[(*b"fmt ", &fmt), (*b"data", &data)])
}

fn push_basic_format(out: &mut Vec<u8>, tag: u16, bits: u16) {
    let block_align = bits / 8;
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * u32::from(block_align)).to_le_bytes()); // byte rate
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
}

fn riff(chunks: &[([u8; 4], &[u8])]) -> Result<Vec<u8>, WavError> {
    let body_len: usize = 4 + chunks
        .iter()
        .map(|(_, body)| 8 + body.len() + (body.len() & 1))
        .sum::<usize>();
    let riff_size = u32::try_from(body_len).map_err(|_| WavError::TooLong(body_len))?;
    let mut out = Vec::with_capacity(8 + body_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_size.to_le_bytes());
    out.extend_from_slice(b"WAVE");
    for (id, body) in chunks {
        let size = u32::try_from(body.len()).map_err(|_| WavError::TooLong(body.len()))?;
        out.extend_from_slice(id);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A hand-built file: header fields given explicitly, chunks in the given order.
    fn wav_with(
        tag: u16,
        channels: u16,
        rate: u32,
        bits: u16,
        extra: &[([u8; 4], &[u8])],
        data: &[u8],
    ) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&rate.to_le_bytes());
        fmt.extend_from_slice(&(rate * u32::from(bits / 8)).to_le_bytes());
        fmt.extend_from_slice(&(bits / 8).to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        let mut chunks: Vec<([u8; 4], &[u8])> = vec![(*b"fmt ", &fmt)];
        chunks.extend_from_slice(extra);
        chunks.push((*b"data", data));
        riff(&chunks).expect("small file")
    }

    #[test]
    fn g711_files_round_trip() {
        let data: Vec<u8> = (0..=255u8).chain(0..=100).collect();
        for law in [Law::Ulaw, Law::Alaw] {
            let file = write_g711(law, &data).expect("small file");
            assert_eq!(file.len(), 58 + data.len() + (data.len() & 1));
            assert_eq!(
                read(&file),
                Ok(WavAudio::G711 {
                    law,
                    data: data.clone()
                })
            );
        }
    }

    #[test]
    fn the_g711_header_is_the_canonical_58_bytes() {
        let file = write_g711(Law::Ulaw, &[0xFF; 4]).expect("small file");
        let expected_header: [u8; 58] = [
            b'R', b'I', b'F', b'F', 54, 0, 0, 0, b'W', b'A', b'V', b'E', //
            b'f', b'm', b't', b' ', 18, 0, 0, 0, //
            7, 0, 1, 0, 0x40, 0x1F, 0, 0, 0x40, 0x1F, 0, 0, 1, 0, 8, 0, 0, 0, //
            b'f', b'a', b'c', b't', 4, 0, 0, 0, 4, 0, 0, 0, //
            b'd', b'a', b't', b'a', 4, 0, 0, 0,
        ];
        assert_eq!(file[..58], expected_header);
        assert_eq!(file[58..], [0xFF; 4]);
    }

    #[test]
    fn pcm_files_round_trip() {
        let samples: Vec<i16> = vec![0, 1, -1, i16::MAX, i16::MIN, 1234, -4321];
        let file = write_pcm16(&samples).expect("small file");
        assert_eq!(file.len(), 44 + 2 * samples.len());
        assert_eq!(read(&file), Ok(WavAudio::Pcm16(samples)));
    }

    #[test]
    fn unknown_and_odd_sized_chunks_are_skipped() {
        // A LIST chunk of odd size (with its pad byte) before the data, as sox and ffmpeg write.
        let file = wav_with(
            FORMAT_MULAW,
            1,
            8000,
            8,
            &[(*b"LIST", b"INFOabc"), (*b"fact", &[3, 0, 0, 0])],
            &[1, 2, 3],
        );
        assert_eq!(
            read(&file),
            Ok(WavAudio::G711 {
                law: Law::Ulaw,
                data: vec![1, 2, 3]
            })
        );
    }

    #[test]
    fn an_extensible_header_naming_pcm_is_read() {
        let mut fmt = Vec::new();
        push_basic_format(&mut fmt, FORMAT_EXTENSIBLE, 16);
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&16u16.to_le_bytes());
        fmt.extend_from_slice(&4u32.to_le_bytes());
        fmt.extend_from_slice(&FORMAT_PCM.to_le_bytes());
        fmt.extend_from_slice(&SUBFORMAT_GUID_TAIL);
        let file = riff(&[(*b"fmt ", &fmt), (*b"data", &[1, 0, 2, 0])]).expect("small");
        assert_eq!(read(&file), Ok(WavAudio::Pcm16(vec![1, 2])));
        // The same with a foreign GUID is refused.
        let last = fmt.len() - 1;
        fmt[last] ^= 0xFF;
        let file = riff(&[(*b"fmt ", &fmt), (*b"data", &[1, 0, 2, 0])]).expect("small");
        assert_eq!(
            read(&file),
            Err(WavError::UnsupportedFormat(FORMAT_EXTENSIBLE))
        );
    }

    #[test]
    fn files_we_cannot_play_say_why() {
        let cases: Vec<(Vec<u8>, WavError)> = vec![
            (b"ID3\x04\0\0\0\0\0\0\0\0\0\0".to_vec(), WavError::NotWave),
            (b"RIFF\0\0\0\0AVI LIST".to_vec(), WavError::NotWave),
            (
                wav_with(FORMAT_MULAW, 2, 8000, 8, &[], &[0; 4]),
                WavError::NotMono(2),
            ),
            (
                wav_with(FORMAT_PCM, 1, 16000, 16, &[], &[0; 4]),
                WavError::UnsupportedSampleRate(16000),
            ),
            (
                wav_with(FORMAT_PCM, 1, 8000, 8, &[], &[0; 4]),
                WavError::UnsupportedBitsPerSample {
                    encoding: "PCM",
                    bits: 8,
                    expected: 16,
                },
            ),
            (
                wav_with(FORMAT_ALAW, 1, 8000, 16, &[], &[0; 4]),
                WavError::UnsupportedBitsPerSample {
                    encoding: "A-law",
                    bits: 16,
                    expected: 8,
                },
            ),
            (
                wav_with(3, 1, 8000, 32, &[], &[0; 4]),
                WavError::UnsupportedFormat(3),
            ),
            (
                wav_with(FORMAT_PCM, 1, 8000, 16, &[], &[0; 3]),
                WavError::OddPcmLength(3),
            ),
            (
                riff(&[(*b"data", &[0; 4])]).expect("small"),
                WavError::MissingFormat,
            ),
            (
                riff(&[(*b"fmt ", &[1, 0, 1, 0])]).expect("small"),
                WavError::ShortFormat(4),
            ),
        ];
        for (file, expected) in cases {
            assert_eq!(read(&file), Err(expected));
        }
        let no_data = riff(&[(*b"fmt ", &[0; 16])]).expect("small");
        assert_eq!(read(&no_data), Err(WavError::MissingData));
        assert_eq!(
            WavError::NotMono(2).to_string(),
            "WAV file has 2 channels; only mono is supported"
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        // An odd data chunk's pad byte is the only byte a reader may do without.
        for (file, pad) in [
            (write_g711(Law::Alaw, &[0xD5; 10]).expect("small"), 0),
            (write_g711(Law::Ulaw, &[0x7F; 9]).expect("small"), 1),
            (write_pcm16(&[1, 2, 3]).expect("small"), 0),
        ] {
            assert!(read(&file).is_ok());
            for len in 0..file.len() - pad {
                assert!(
                    read(&file[..len]).is_err(),
                    "length {len} of {}",
                    file.len()
                );
            }
        }
        assert_eq!(
            read(b"RIF"),
            Err(WavError::Truncated {
                what: "RIFF header",
                offset: 0,
                needed: 12,
                len: 3
            })
        );
        let file = write_g711(Law::Ulaw, &[0; 10]).expect("small");
        assert_eq!(
            read(&file[..60]),
            Err(WavError::Truncated {
                what: "data chunk",
                offset: 50,
                needed: 18,
                len: 60
            })
        );
    }

    #[test]
    fn audio_is_converted_to_the_negotiated_law() {
        let ulaw = WavAudio::G711 {
            law: Law::Ulaw,
            data: vec![0xFF, 0x80, 0x00],
        };
        assert_eq!(ulaw.to_g711(Law::Ulaw), vec![0xFF, 0x80, 0x00]);
        let alaw = ulaw.to_g711(Law::Alaw);
        assert_eq!(alaw[0], 0xD5);
        assert_eq!(alaw.len(), 3);
        let pcm = WavAudio::Pcm16(vec![0, 1000]);
        assert_eq!(pcm.to_g711(Law::Ulaw), vec![0xFF, Law::Ulaw.encode(1000)]);
        assert_eq!(pcm.sample_count(), 2);
    }

    #[test]
    fn decode_reads_any_rate_channel_count_and_sample_width() {
        let pcm16: Vec<u8> = [100i16, -200, 300, -400]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let file = wav_with(FORMAT_PCM, 2, 44_100, 16, &[], &pcm16);
        assert_eq!(
            decode(&file),
            Ok(DecodedWav {
                sample_rate: 44_100,
                channels: 2,
                samples: vec![100, -200, 300, -400]
            })
        );
        let pcm8 = wav_with(FORMAT_PCM, 1, 11_025, 8, &[], &[0, 128, 255]);
        assert_eq!(decode(&pcm8).map(|d| d.samples), Ok(vec![-32768, 0, 32512]));
        let pcm24 = wav_with(
            FORMAT_PCM,
            1,
            48_000,
            24,
            &[],
            &[0xAA, 0x34, 0x12, 0x00, 0x00, 0x80],
        );
        assert_eq!(
            decode(&pcm24).map(|d| d.samples),
            Ok(vec![0x1234, i16::MIN])
        );
        let float: Vec<u8> = [0.5f32, -1.5, f32::NAN]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let float = wav_with(FORMAT_FLOAT, 1, 22_050, 32, &[], &float);
        assert_eq!(
            decode(&float).map(|d| d.samples),
            Ok(vec![16384, -32767, 0])
        );
        let alaw = wav_with(FORMAT_ALAW, 1, 16_000, 8, &[], &[0xD5]);
        assert_eq!(
            decode(&alaw).map(|d| d.samples),
            Ok(vec![Law::Alaw.decode(0xD5)])
        );
        // A partial last frame is dropped.
        let odd = wav_with(FORMAT_PCM, 2, 8000, 16, &[], &[1, 0, 2, 0, 3]);
        assert_eq!(decode(&odd).map(|d| d.samples), Ok(vec![1, 2]));
        assert_eq!(
            decode(&wav_with(FORMAT_PCM, 0, 8000, 16, &[], &[])),
            Err(WavError::NoChannels)
        );
        assert_eq!(
            decode(&wav_with(FORMAT_PCM, 1, 0, 16, &[], &[])),
            Err(WavError::BadSampleRate(0))
        );
        assert!(matches!(
            decode(&wav_with(FORMAT_PCM, 1, 8000, 12, &[], &[])),
            Err(WavError::UnsupportedBitsPerSample { bits: 12, .. })
        ));
    }

    #[test]
    fn decode_takes_a_streamed_data_chunk_as_the_rest_of_the_file() {
        // espeak-ng --stdout cannot seek back: it leaves the size at 0x7ffff000.
        let mut file = wav_with(FORMAT_PCM, 1, 22_050, 16, &[], &[1, 0, 2, 0]);
        let at = file.len() - 8;
        file[at..at + 4].copy_from_slice(&0x7FFF_F000u32.to_le_bytes());
        assert_eq!(decode(&file).map(|d| d.samples), Ok(vec![1, 2]));
        assert!(
            matches!(read(&file), Err(WavError::Truncated { .. })),
            "read stays strict"
        );
    }

    proptest! {
        #[test]
        fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read(&bytes);
        }

        #[test]
        fn reading_arbitrary_chunks_never_panics(
            chunks in proptest::collection::vec(
                (prop_oneof![Just(*b"fmt "), Just(*b"data"), Just(*b"LIST")],
                 any::<u32>(),
                 proptest::collection::vec(any::<u8>(), 0..48)),
                0..5,
            )
        ) {
            let mut file = b"RIFF\0\0\0\0WAVE".to_vec();
            for (id, size, body) in chunks {
                file.extend_from_slice(&id);
                file.extend_from_slice(&size.to_le_bytes());
                file.extend_from_slice(&body);
            }
            let _ = read(&file);
            let _ = decode(&file);
        }

        #[test]
        fn written_g711_reads_back(data in proptest::collection::vec(any::<u8>(), 0..400), alaw in any::<bool>()) {
            let law = if alaw { Law::Alaw } else { Law::Ulaw };
            let file = write_g711(law, &data).expect("small file");
            prop_assert_eq!(read(&file), Ok(WavAudio::G711 { law, data }));
        }
    }
}
