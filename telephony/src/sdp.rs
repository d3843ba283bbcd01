//! SDP (RFC 4566) for one G.711 audio stream, and the offer/answer rules (RFC 3264) that
//! pick its codec and its DTMF payload type.
//!
//! The parser reads the subset a SIP audio call needs (`v`, `o`, `s`, `c`, `t`, `m`, and the
//! attributes `rtpmap`, `fmtp`, `ptime`, `sendrecv`/`sendonly`/`recvonly`/`inactive`) and
//! skips other line types. Every problem that makes an offer unusable is a distinct
//! [`SdpError`] whose message says what is wrong; the SIP layer answers it with
//! `488 Not Acceptable Here` and can put the message in a `Warning` header.
//!
//! Negotiation, inbound (we answer):
//!
//! ```text
//! offer text ─► SessionDescription::parse ─► negotiate ─► NegotiatedAudio ─► answer text
//!               (syntax errors)               (488 errors: no audio, no c=, no codec)
//! ```
//!
//! Outbound (we offer): [`Offer::new`] builds the text and remembers what it offered, and
//! [`Offer::accept_answer`] checks the peer's answer against it.
//!
//! Codec choice follows the offerer's preference order (the first PCMU or PCMA in its `m=`
//! list wins), and telephone-event is accepted under whatever dynamic payload type the
//! offer used, because the answer must reuse the offerer's numbers.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::g711::Law;

/// Encoding name of RFC 4733 DTMF events.
pub const TELEPHONE_EVENT: &str = "telephone-event";
/// The RTP clock of G.711 and of the telephone events we accept.
pub const AUDIO_CLOCK_RATE: u32 = 8000;
/// The only transport profile we speak: plain RTP over UDP, no SRTP, no feedback.
pub const RTP_AVP: &str = "RTP/AVP";
/// Packet duration we send and ask for, in milliseconds.
pub const PTIME_MS: u32 = 20;
/// Events we can receive: the sixteen DTMF keys.
const TELEPHONE_EVENT_FMTP: &str = "0-15";
/// The username in our `o=` lines and the name in our `s=` lines.
const ORIGIN_USERNAME: &str = "switchboard";
/// Every law we can answer with, in no particular order (the offer's order decides).
const ALL_LAWS: [Law; 2] = [Law::Ulaw, Law::Alaw];
/// Longest excerpt of peer text quoted in an error message.
const QUOTE_LIMIT: usize = 80;

/// Why an SDP body could not be parsed or negotiated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body has no lines at all.
    #[error("SDP body is empty")]
    Empty,
    /// The first line is not `v=0`.
    #[error("SDP must start with v=0, found {0:?}")]
    MissingVersion(String),
    /// A line is not of the form `<letter>=<value>`.
    #[error("SDP line {line} is not of the form <type>=<value>: {text:?}")]
    MalformedLine {
        /// One-based line number.
        line: usize,
        /// The line, shortened.
        text: String,
    },
    /// A known line type has a value we cannot read.
    #[error("SDP line {line} ({field}) is malformed: {reason}")]
    BadField {
        /// One-based line number.
        line: usize,
        /// Which field: `o=`, `c=`, `t=`, `m=`, `a=rtpmap`, …
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The port of an `m=` line is not a number from 0 to 65535.
    #[error("SDP line {line}: media port {value:?} is not a number from 0 to 65535")]
    BadPort {
        /// One-based line number.
        line: usize,
        /// The port as written, shortened.
        value: String,
    },
    /// No `m=audio` line at all.
    #[error("SDP has no m=audio line")]
    NoAudio,
    /// Every `m=audio` line has port 0 (the stream is declined or disabled).
    #[error("the audio stream is disabled (m=audio with port 0)")]
    AudioDisabled,
    /// The audio stream uses a transport other than `RTP/AVP`.
    #[error("m=audio uses transport {0:?}; only RTP/AVP (no SRTP, no WebRTC) is supported")]
    UnsupportedTransport(String),
    /// Neither the audio `m=` section nor the session has a `c=` line.
    #[error("no c= line gives the address of the audio stream")]
    MissingConnection,
    /// The audio stream offers no PCMU or PCMA.
    #[error("no common codec: the audio stream offers {offered:?}; only PCMU/8000 (0) and PCMA/8000 (8) are supported")]
    NoCommonCodec {
        /// The offered formats, with their encoding names where known.
        offered: Vec<String>,
    },
}

/// Media direction attributes (RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`, the default.
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `sendrecv`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction seen from the other side: send-only becomes receive-only and back.
    pub const fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// The `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user name (`-` when the peer has none).
    pub username: String,
    /// The session id, kept as text: it is numeric but may exceed 64 bits.
    pub session_id: String,
    /// The session version, kept as text for the same reason.
    pub session_version: String,
    /// `IP4` or `IP6`.
    pub address_type: String,
    /// The originator's address or host name.
    pub address: String,
}

/// An `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type it names.
    pub payload_type: u8,
    /// The encoding name, e.g. `PCMU`, `telephone-event`.
    pub encoding: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// The encoding parameters (channels for audio), when given.
    pub channels: Option<u8>,
}

/// An `a=fmtp:<format> <parameters>` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The format (payload type) it applies to, as written.
    pub format: String,
    /// The parameters, as written.
    pub parameters: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `image`, …
    pub media: String,
    /// The transport port; 0 declines or disables the stream.
    pub port: u16,
    /// The transport profile, e.g. `RTP/AVP`.
    pub protocol: String,
    /// The formats in preference order (payload type numbers for RTP), as written.
    pub formats: Vec<String>,
    /// A `c=` line inside this section, overriding the session's.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` attributes.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` attributes.
    pub fmtps: Vec<Fmtp>,
    /// A direction attribute inside this section.
    pub direction: Option<Direction>,
    /// `a=ptime`, in milliseconds.
    pub ptime: Option<u32>,
}

impl MediaDescription {
    /// The rtpmap of payload type `pt`, if the section has one.
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == pt)
    }

    /// The G.711 law that payload type `pt` carries in this section, if any: an rtpmap
    /// naming `PCMU/8000` or `PCMA/8000` (mono), or else the static types 0 and 8.
    pub fn g711_law(&self, pt: u8) -> Option<Law> {
        match self.rtpmap(pt) {
            Some(map) => Law::from_encoding_name(&map.encoding).filter(|_| {
                map.clock_rate == AUDIO_CLOCK_RATE && map.channels.is_none_or(|c| c == 1)
            }),
            None => Law::from_payload_type(pt),
        }
    }

    /// The payload type of `telephone-event/8000` in this section, if it is both mapped and
    /// listed among the formats.
    pub fn telephone_event(&self) -> Option<u8> {
        self.payload_types().into_iter().find(|&pt| {
            self.rtpmap(pt).is_some_and(|m| {
                m.encoding.eq_ignore_ascii_case(TELEPHONE_EVENT) && m.clock_rate == AUDIO_CLOCK_RATE
            })
        })
    }

    /// The formats that are valid RTP payload types (0–127), in order.
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|&pt| pt <= 0x7F)
            .collect()
    }

    /// The direction in force: this section's, else the session's, else send-receive.
    pub fn effective_direction(&self, session: Option<Direction>) -> Direction {
        self.direction.or(session).unwrap_or(Direction::SendRecv)
    }

    fn is_audio(&self) -> bool {
        self.media.eq_ignore_ascii_case("audio")
    }

    fn describe_formats(&self) -> Vec<String> {
        self.formats
            .iter()
            .map(|f| {
                let name = f
                    .parse::<u8>()
                    .ok()
                    .and_then(|pt| self.rtpmap(pt))
                    .map(|m| format!("{}/{}", m.encoding, m.clock_rate));
                match name {
                    Some(name) => format!("{f} {name}"),
                    None => f.clone(),
                }
            })
            .collect()
    }
}

/// A parsed SDP body (the subset described in the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The `o=` line, if present.
    pub origin: Option<Origin>,
    /// The `s=` line, if present.
    pub session_name: Option<String>,
    /// The session-level `c=` address, if present.
    pub connection: Option<IpAddr>,
    /// The `t=` start and stop times, if present.
    pub timing: Option<(u64, u64)>,
    /// A session-level direction attribute.
    pub direction: Option<Direction>,
    /// The `m=` sections in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// Parses an SDP body. Lines may end in CRLF or LF; blank lines and line types outside
    /// the subset are skipped.
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
            .filter(|(_, l)| !l.trim().is_empty());

        let (_, first) = lines.next().ok_or(SdpError::Empty)?;
        if first.trim_end() != "v=0" {
            return Err(SdpError::MissingVersion(quote(first)));
        }

        let mut sdp = SessionDescription {
            origin: None,
            session_name: None,
            connection: None,
            timing: None,
            direction: None,
            media: Vec::new(),
        };
        for (number, line) in lines {
            let (kind, value) = split_line(number, line)?;
            match (kind, sdp.media.last_mut()) {
                (b'm', _) => sdp.media.push(parse_media(number, value)?),
                (b'c', Some(media)) => media.connection = Some(parse_connection(number, value)?),
                (b'c', None) => sdp.connection = Some(parse_connection(number, value)?),
                (b'a', Some(media)) => parse_media_attribute(number, value, media)?,
                (b'a', None) => {
                    if let Some(direction) = Direction::from_attribute(value.trim()) {
                        sdp.direction = Some(direction);
                    }
                }
                (b'o', None) => sdp.origin = Some(parse_origin(number, value)?),
                (b's', None) => sdp.session_name = Some(value.to_owned()),
                (b't', None) => sdp.timing = Some(parse_timing(number, value)?),
                _ => {}
            }
        }
        Ok(sdp)
    }

    /// The RTP address of a media section: its own `c=`, else the session's.
    pub fn media_address(&self, media: &MediaDescription) -> Option<IpAddr> {
        media.connection.or(self.connection)
    }
}

/// What an offer/answer exchange settled for the audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// Where the peer wants RTP: its `c=` address and `m=audio` port. An address of
    /// `0.0.0.0` is the old way of putting a call on hold.
    pub remote: SocketAddr,
    /// The G.711 law both sides use.
    pub law: Law,
    /// The payload type of that law (0 or 8 unless the peer mapped a dynamic one).
    pub payload_type: u8,
    /// The telephone-event payload type, when both sides accept RFC 4733 DTMF.
    pub telephone_event: Option<u8>,
    /// What we may do: send, receive, both or neither.
    pub direction: Direction,
    /// The packet duration the peer asked for with `a=ptime`, if it did.
    pub remote_ptime: Option<u32>,
}

/// Our side of the media: where we receive RTP and how our `o=` line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address the peer should send RTP to (also used in `o=`).
    pub address: IpAddr,
    /// Our RTP port.
    pub rtp_port: u16,
    /// The `o=` session id, chosen by the caller (unique per session).
    pub session_id: u64,
    /// The `o=` session version; increase it when the session is modified.
    pub session_version: u64,
}

/// Picks the audio stream, codec and DTMF payload type for an answer to `offer`.
///
/// The first `m=audio` section that is enabled, uses `RTP/AVP`, has an address and lists
/// PCMU or PCMA wins; if none does, the error describes the first enabled one. Returns the
/// index of the chosen section in `offer.media` with what was agreed for it.
pub fn negotiate(offer: &SessionDescription) -> Result<(usize, NegotiatedAudio), SdpError> {
    negotiate_with(offer, &ALL_LAWS)
}

/// [`negotiate`], accepting only `laws` (a re-offer mid-call keeps the codec in use).
pub fn negotiate_with(
    offer: &SessionDescription,
    laws: &[Law],
) -> Result<(usize, NegotiatedAudio), SdpError> {
    let mut first_error = None;
    let mut saw_audio = false;
    for (index, media) in offer.media.iter().enumerate() {
        if !media.is_audio() {
            continue;
        }
        saw_audio = true;
        if media.port == 0 {
            continue;
        }
        match accept_audio(
            offer,
            media,
            media.effective_direction(offer.direction),
            laws,
        ) {
            Ok(audio) => return Ok((index, audio)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(match first_error {
        Some(e) => e,
        None if saw_audio => SdpError::AudioDisabled,
        None => SdpError::NoAudio,
    })
}

/// The result of answering an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The negotiated audio stream.
    pub audio: NegotiatedAudio,
    /// The answer SDP, CRLF line endings.
    pub sdp: String,
}

/// Negotiates `offer` and writes the answer SDP.
///
/// The answer has one `m=` line per offered one, as RFC 3264 §6 requires: the chosen audio
/// stream with our port, codec, telephone-event (if offered), `a=ptime:20` and the reversed
/// direction; every other stream declined with port 0.
pub fn answer(offer: &SessionDescription, local: &LocalMedia) -> Result<Answer, SdpError> {
    answer_with(offer, local, &ALL_LAWS)
}

/// [`answer`], choosing only among `laws`.
pub fn answer_with(
    offer: &SessionDescription,
    local: &LocalMedia,
    laws: &[Law],
) -> Result<Answer, SdpError> {
    let (chosen, audio) = negotiate_with(offer, laws)?;
    let mut sdp = session_header(local);
    for (index, media) in offer.media.iter().enumerate() {
        if index == chosen {
            write_audio(&mut sdp, local.rtp_port, &audio);
        } else {
            let _ = write!(sdp, "m={} 0 {}", media.media, media.protocol);
            for format in &media.formats {
                let _ = write!(sdp, " {format}");
            }
            sdp.push_str("\r\n");
        }
    }
    Ok(Answer { audio, sdp })
}

/// An offer we sent (outbound call), kept to check the answer against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The laws offered, in our order of preference.
    pub codecs: Vec<Law>,
    /// The telephone-event payload type offered, if any.
    pub telephone_event: Option<u8>,
    /// The offer SDP, CRLF line endings.
    pub sdp: String,
}

impl Offer {
    /// Builds an offer for one send-receive audio stream with `codecs` (static payload types
    /// 0/8, duplicates dropped) and, when given, telephone-event under that dynamic payload
    /// type (96–127 by convention, commonly 101).
    pub fn new(local: &LocalMedia, codecs: &[Law], telephone_event: Option<u8>) -> Offer {
        let mut unique: Vec<Law> = Vec::with_capacity(2);
        for &law in codecs {
            if !unique.contains(&law) {
                unique.push(law);
            }
        }
        let mut sdp = session_header(local);
        write_audio_offer(&mut sdp, local.rtp_port, &unique, telephone_event);
        Offer {
            codecs: unique,
            telephone_event,
            sdp,
        }
    }

    /// Checks the peer's answer: the audio stream must be accepted (port ≠ 0), use
    /// `RTP/AVP`, have an address, and pick one of the laws we offered.
    pub fn accept_answer(&self, answer: &str) -> Result<NegotiatedAudio, SdpError> {
        let sdp = SessionDescription::parse(answer)?;
        let media = sdp
            .media
            .iter()
            .find(|m| m.is_audio())
            .ok_or(SdpError::NoAudio)?;
        if media.port == 0 {
            return Err(SdpError::AudioDisabled);
        }
        let their_direction = media.effective_direction(sdp.direction);
        let mut audio = accept_audio(&sdp, media, their_direction, &self.codecs)?;
        if self.telephone_event.is_none() {
            audio.telephone_event = None;
        }
        Ok(audio)
    }
}

/// Checks one enabled audio section and picks its first codec among `laws`.
/// `their_direction` is the section's direction as the peer wrote it; the result holds ours.
fn accept_audio(
    sdp: &SessionDescription,
    media: &MediaDescription,
    their_direction: Direction,
    laws: &[Law],
) -> Result<NegotiatedAudio, SdpError> {
    if !media.protocol.eq_ignore_ascii_case(RTP_AVP) {
        return Err(SdpError::UnsupportedTransport(quote(&media.protocol)));
    }
    let address = sdp
        .media_address(media)
        .ok_or(SdpError::MissingConnection)?;
    let (payload_type, law) = media
        .payload_types()
        .into_iter()
        .find_map(|pt| {
            media
                .g711_law(pt)
                .filter(|law| laws.contains(law))
                .map(|law| (pt, law))
        })
        .ok_or_else(|| SdpError::NoCommonCodec {
            offered: media.describe_formats(),
        })?;
    Ok(NegotiatedAudio {
        remote: SocketAddr::new(address, media.port),
        law,
        payload_type,
        telephone_event: media.telephone_event(),
        direction: their_direction.reversed(),
        remote_ptime: media.ptime,
    })
}

fn session_header(local: &LocalMedia) -> String {
    let ip = address_type(local.address);
    let mut sdp = String::with_capacity(256);
    let _ = write!(
        sdp,
        "v=0\r\no={ORIGIN_USERNAME} {} {} IN {ip} {addr}\r\ns={ORIGIN_USERNAME}\r\nc=IN {ip} {addr}\r\nt=0 0\r\n",
        local.session_id,
        local.session_version,
        addr = local.address,
    );
    sdp
}

fn write_audio(sdp: &mut String, port: u16, audio: &NegotiatedAudio) {
    let payload_type = audio.payload_type;
    let telephone_event = audio.telephone_event;
    let law = audio.law;
    let direction = audio.direction;
    let _ = write!(sdp, "m=audio {port} {RTP_AVP} {payload_type}");
    if let Some(te) = telephone_event {
        let _ = write!(sdp, " {te}");
    }
    let _ = write!(
        sdp,
        "\r\na=rtpmap:{payload_type} {}/{AUDIO_CLOCK_RATE}\r\n",
        law.encoding_name()
    );
    if let Some(te) = telephone_event {
        let _ = write!(
            sdp,
            "a=rtpmap:{te} {TELEPHONE_EVENT}/{AUDIO_CLOCK_RATE}\r\na=fmtp:{te} {TELEPHONE_EVENT_FMTP}\r\n"
        );
    }
    let _ = write!(sdp, "a=ptime:{PTIME_MS}\r\na={}\r\n", direction.as_str());
}

fn write_audio_offer(sdp: &mut String, port: u16, codecs: &[Law], telephone_event: Option<u8>) {
    let _ = write!(sdp, "m=audio {port} {RTP_AVP}");
    for law in codecs {
        let _ = write!(sdp, " {}", law.payload_type());
    }
    if let Some(te) = telephone_event {
        let _ = write!(sdp, " {te}");
    }
    sdp.push_str("\r\n");
    for law in codecs {
        let _ = write!(
            sdp,
            "a=rtpmap:{} {}/{AUDIO_CLOCK_RATE}\r\n",
            law.payload_type(),
            law.encoding_name()
        );
    }
    if let Some(te) = telephone_event {
        let _ = write!(
            sdp,
            "a=rtpmap:{te} {TELEPHONE_EVENT}/{AUDIO_CLOCK_RATE}\r\na=fmtp:{te} {TELEPHONE_EVENT_FMTP}\r\n"
        );
    }
    let _ = write!(sdp, "a=ptime:{PTIME_MS}\r\na=sendrecv\r\n");
}

fn address_type(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// Shortens peer text for an error message (at a character boundary).
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn split_line(number: usize, line: &str) -> Result<(u8, &str), SdpError> {
    match line.as_bytes() {
        [kind, b'=', ..] if kind.is_ascii_lowercase() => Ok((*kind, &line[2..])),
        _ => Err(SdpError::MalformedLine {
            line: number,
            text: quote(line),
        }),
    }
}

fn bad(line: usize, field: &'static str, reason: impl Into<String>) -> SdpError {
    SdpError::BadField {
        line,
        field,
        reason: reason.into(),
    }
}

fn parse_origin(line: usize, value: &str) -> Result<Origin, SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    match fields.as_slice() {
        [username, session_id, session_version, _net_type, address_type, address] => Ok(Origin {
            username: (*username).to_owned(),
            session_id: (*session_id).to_owned(),
            session_version: (*session_version).to_owned(),
            address_type: (*address_type).to_owned(),
            address: (*address).to_owned(),
        }),
        _ => Err(bad(
            line,
            "o=",
            format!("expected 6 fields, found {}", fields.len()),
        )),
    }
}

fn parse_connection(line: usize, value: &str) -> Result<IpAddr, SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [net_type, _address_type, address] = fields.as_slice() else {
        return Err(bad(
            line,
            "c=",
            format!(
                "expected \"IN IP4 <address>\", found {} fields",
                fields.len()
            ),
        ));
    };
    if *net_type != "IN" {
        return Err(bad(
            line,
            "c=",
            format!("network type {:?} is not IN", quote(net_type)),
        ));
    }
    // Multicast addresses carry "/ttl[/count]"; only the address matters here.
    let host = address.split('/').next().unwrap_or(address);
    host.parse().map_err(|_| {
        bad(
            line,
            "c=",
            format!("{:?} is not an IP address", quote(host)),
        )
    })
}

fn parse_timing(line: usize, value: &str) -> Result<(u64, u64), SdpError> {
    let mut fields = value.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Ok(start)), Some(Ok(stop)), None) => Ok((start, stop)),
        _ => Err(bad(line, "t=", "expected two decimal times")),
    }
}

fn parse_media(line: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let mut fields = value.split_whitespace();
    let (Some(media), Some(port), Some(protocol)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(bad(
            line,
            "m=",
            "expected \"<media> <port> <proto> <fmt> ...\"",
        ));
    };
    // "port/count" asks for several consecutive ports; only the first is used.
    let port_text = port.split('/').next().unwrap_or(port);
    let port = port_text.parse::<u16>().map_err(|_| SdpError::BadPort {
        line,
        value: quote(port),
    })?;
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        protocol: protocol.to_owned(),
        formats: fields.map(str::to_owned).collect(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        direction: None,
        ptime: None,
    })
}

fn parse_media_attribute(
    line: usize,
    value: &str,
    media: &mut MediaDescription,
) -> Result<(), SdpError> {
    let (name, argument) = match value.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => (value.trim(), None),
    };
    match (name, argument) {
        ("rtpmap", Some(argument)) => media.rtpmaps.push(parse_rtpmap(line, argument)?),
        ("fmtp", Some(argument)) => {
            let argument = argument.trim();
            let (format, parameters) = argument.split_once(' ').unwrap_or((argument, ""));
            media.fmtps.push(Fmtp {
                format: format.to_owned(),
                parameters: parameters.trim().to_owned(),
            });
        }
        ("ptime", Some(argument)) => {
            let ptime = argument
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(line, "a=ptime", "expected milliseconds as a number"))?;
            media.ptime = Some(ptime);
        }
        (name, None) => {
            if let Some(direction) = Direction::from_attribute(name) {
                media.direction = Some(direction);
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_rtpmap(line: usize, argument: &str) -> Result<RtpMap, SdpError> {
    let err = || {
        bad(
            line,
            "a=rtpmap",
            format!(
                "expected \"<pt> <encoding>/<clock rate>[/<channels>]\", found {:?}",
                quote(argument)
            ),
        )
    };
    let (pt, rest) = argument.trim().split_once(' ').ok_or_else(err)?;
    let payload_type = pt
        .parse::<u8>()
        .ok()
        .filter(|&pt| pt <= 0x7F)
        .ok_or_else(err)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty()).ok_or_else(err)?;
    let clock_rate = parts
        .next()
        .and_then(|c| c.parse::<u32>().ok())
        .ok_or_else(err)?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse::<u8>().map_err(|_| err())?),
        None => None,
    };
    if parts.next().is_some() {
        return Err(err());
    }
    Ok(RtpMap {
        payload_type,
        encoding: encoding.to_owned(),
        clock_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// SIPp's built-in `uac` scenario, after SIPp's substitutions (it sends CRLF).
    const SIPP_UAC: &str = "v=0\r\n\
        o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        c=IN IP4 127.0.0.1\r\n\
        t=0 0\r\n\
        m=audio 6000 RTP/AVP 0\r\n\
        a=rtpmap:0 PCMU/8000\r\n";

    /// SIPp's built-in `uac_pcap` scenario: PCMA plus telephone-event 101.
    const SIPP_UAC_PCAP: &str = "v=0\r\n\
        o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        c=IN IP4 127.0.0.1\r\n\
        t=0 0\r\n\
        m=audio 6000 RTP/AVP 8 101\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-11,16\r\n";

    fn local() -> LocalMedia {
        LocalMedia {
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            rtp_port: 20_000,
            session_id: 42,
            session_version: 1,
        }
    }

    fn answer_text(offer: &str) -> Result<Answer, SdpError> {
        answer(&SessionDescription::parse(offer)?, &local())
    }

    #[test]
    fn a_re_offer_is_answered_only_with_the_codec_in_use() {
        let offer = SessionDescription::parse(SIPP_UAC_PCAP).expect("parses");
        let kept = answer_with(&offer, &local(), &[Law::Alaw]).expect("PCMA is offered");
        assert_eq!(kept.audio.law, Law::Alaw);
        assert_eq!(kept.audio.telephone_event, Some(101));
        let dropped = answer_with(&offer, &local(), &[Law::Ulaw]);
        assert!(
            matches!(dropped, Err(SdpError::NoCommonCodec { .. })),
            "{dropped:?}"
        );
    }

    #[test]
    fn the_sipp_uac_offer_is_answered_with_pcmu() {
        let a = answer_text(SIPP_UAC).expect("acceptable offer");
        assert_eq!(
            a.audio,
            NegotiatedAudio {
                remote: "127.0.0.1:6000".parse().expect("address"),
                law: Law::Ulaw,
                payload_type: 0,
                telephone_event: None,
                direction: Direction::SendRecv,
                remote_ptime: None,
            }
        );
        assert_eq!(
            a.sdp,
            "v=0\r\n\
             o=switchboard 42 1 IN IP4 127.0.0.2\r\n\
             s=switchboard\r\n\
             c=IN IP4 127.0.0.2\r\n\
             t=0 0\r\n\
             m=audio 20000 RTP/AVP 0\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=ptime:20\r\n\
             a=sendrecv\r\n"
        );
    }

    #[test]
    fn the_sipp_uac_pcap_offer_gets_pcma_and_its_telephone_event_type() {
        let a = answer_text(SIPP_UAC_PCAP).expect("acceptable offer");
        assert_eq!(a.audio.law, Law::Alaw);
        assert_eq!(a.audio.payload_type, 8);
        assert_eq!(a.audio.telephone_event, Some(101));
        assert!(a.sdp.contains("m=audio 20000 RTP/AVP 8 101\r\n"));
        assert!(a.sdp.contains("a=rtpmap:8 PCMA/8000\r\n"));
        assert!(a.sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"));
        assert!(a.sdp.contains("a=fmtp:101 0-15\r\n"));
        // The answer is itself valid SDP describing the same stream from our side.
        let parsed = SessionDescription::parse(&a.sdp).expect("our answer parses");
        assert_eq!(parsed.connection, Some(local().address));
        assert_eq!(parsed.media[0].telephone_event(), Some(101));
        assert_eq!(parsed.media[0].ptime, Some(20));
    }

    #[test]
    fn the_offer_fields_are_parsed() {
        let sdp = SessionDescription::parse(SIPP_UAC_PCAP).expect("valid");
        assert_eq!(
            sdp.origin,
            Some(Origin {
                username: "user1".into(),
                session_id: "53655765".into(),
                session_version: "2353687637".into(),
                address_type: "IP4".into(),
                address: "127.0.0.1".into(),
            })
        );
        assert_eq!(sdp.session_name.as_deref(), Some("-"));
        assert_eq!(sdp.timing, Some((0, 0)));
        let m = &sdp.media[0];
        assert_eq!(m.formats, ["8", "101"]);
        assert_eq!(
            m.rtpmap(101),
            Some(&RtpMap {
                payload_type: 101,
                encoding: "telephone-event".into(),
                clock_rate: 8000,
                channels: None
            })
        );
        assert_eq!(
            m.fmtps,
            [Fmtp {
                format: "101".into(),
                parameters: "0-11,16".into()
            }]
        );
    }

    #[test]
    fn the_offerers_preference_order_decides_the_codec() {
        let offer = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n\
                     m=audio 4000 RTP/AVP 18 8 0 101\na=rtpmap:18 G729/8000\n\
                     a=rtpmap:101 telephone-event/8000\na=ptime:30\n";
        let a = answer_text(offer).expect("acceptable");
        assert_eq!((a.audio.law, a.audio.payload_type), (Law::Alaw, 8));
        assert_eq!(a.audio.remote_ptime, Some(30));
        assert_eq!(a.audio.remote, "10.0.0.1:4000".parse().expect("address"));
    }

    #[test]
    fn a_dynamic_payload_type_mapped_to_pcmu_is_honoured() {
        let offer = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 96 97\n\
                     a=rtpmap:96 PCMU/8000/1\na=rtpmap:97 telephone-event/8000\n";
        let a = answer_text(offer).expect("acceptable");
        assert_eq!((a.audio.law, a.audio.payload_type), (Law::Ulaw, 96));
        assert!(a
            .sdp
            .contains("m=audio 20000 RTP/AVP 96 97\r\na=rtpmap:96 PCMU/8000\r\n"));
        // A static number remapped to something else is not G.711.
        let remapped = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 opus/48000/2\n";
        assert!(matches!(
            answer_text(remapped),
            Err(SdpError::NoCommonCodec { .. })
        ));
    }

    #[test]
    fn a_media_level_connection_overrides_the_session_one() {
        let offer = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\nc=IN IP4 10.0.0.9\n";
        let a = answer_text(offer).expect("acceptable");
        assert_eq!(a.audio.remote, "10.0.0.9:4000".parse().expect("address"));
        let v6 = "v=0\nm=audio 4000 RTP/AVP 0\nc=IN IP6 ::1\n";
        let a = answer_text(v6).expect("acceptable");
        assert_eq!(
            a.audio.remote,
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 4000)
        );
    }

    #[test]
    fn the_answer_direction_mirrors_the_offer() {
        for (offered, answered) in [
            ("sendrecv", Direction::SendRecv),
            ("sendonly", Direction::RecvOnly),
            ("recvonly", Direction::SendOnly),
            ("inactive", Direction::Inactive),
        ] {
            let offer = format!("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\na={offered}\n");
            let a = answer_text(&offer).expect("acceptable");
            assert_eq!(a.audio.direction, answered);
            assert!(a.sdp.ends_with(&format!("a={}\r\n", answered.as_str())));
            // At session level too.
            let offer = format!("v=0\nc=IN IP4 10.0.0.1\na={offered}\nm=audio 4000 RTP/AVP 0\n");
            assert_eq!(answer_text(&offer).map(|a| a.audio.direction), Ok(answered));
        }
    }

    #[test]
    fn other_streams_are_declined_in_place() {
        let offer = "v=0\nc=IN IP4 10.0.0.1\n\
                     m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\n\
                     m=audio 4000 RTP/AVP 0\n\
                     m=image 6000 udptl t38\n";
        let a = answer_text(offer).expect("acceptable");
        let m_lines: Vec<&str> = a.sdp.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            m_lines,
            [
                "m=video 0 RTP/AVP 96",
                "m=audio 20000 RTP/AVP 0",
                "m=image 0 udptl t38"
            ]
        );
    }

    #[test]
    fn unusable_offers_say_what_is_wrong() {
        let cases: [(&str, SdpError); 8] = [
            ("", SdpError::Empty),
            (
                "o=- 1 1 IN IP4 1.2.3.4\n",
                SdpError::MissingVersion("o=- 1 1 IN IP4 1.2.3.4".into()),
            ),
            (
                "v=0\nc=IN IP4 10.0.0.1\nm=video 5000 RTP/AVP 96\n",
                SdpError::NoAudio,
            ),
            (
                "v=0\nc=IN IP4 10.0.0.1\nm=audio 0 RTP/AVP 0\n",
                SdpError::AudioDisabled,
            ),
            ("v=0\nm=audio 4000 RTP/AVP 0\n", SdpError::MissingConnection),
            (
                "v=0\nc=IN IP4 10.0.0.1\nm=audio 70000 RTP/AVP 0\n",
                SdpError::BadPort {
                    line: 3,
                    value: "70000".into(),
                },
            ),
            (
                "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 UDP/TLS/RTP/SAVPF 111 0\n",
                SdpError::UnsupportedTransport("UDP/TLS/RTP/SAVPF".into()),
            ),
            (
                "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18 9 101\na=rtpmap:9 G722/8000\n\
                 a=rtpmap:101 telephone-event/8000\n",
                SdpError::NoCommonCodec {
                    offered: vec![
                        "18".into(),
                        "9 G722/8000".into(),
                        "101 telephone-event/8000".into(),
                    ],
                },
            ),
        ];
        for (offer, expected) in cases {
            assert_eq!(answer_text(offer), Err(expected), "offer {offer:?}");
        }
    }

    #[test]
    fn malformed_lines_are_located() {
        let cases = [
            ("v=0\nhello\n", 2, None),
            ("v=0\nc=IN IP4 not-an-ip\n", 2, Some("c=")),
            ("v=0\nc=IN IP4\n", 2, Some("c=")),
            ("v=0\no=- 1 IN IP4 1.2.3.4\n", 2, Some("o=")),
            ("v=0\nt=now later\n", 2, Some("t=")),
            ("v=0\nm=audio\n", 2, Some("m=")),
            (
                "v=0\nm=audio 1 RTP/AVP 0\na=rtpmap:0 PCMU\n",
                3,
                Some("a=rtpmap"),
            ),
            (
                "v=0\nm=audio 1 RTP/AVP 0\na=rtpmap:300 PCMU/8000\n",
                3,
                Some("a=rtpmap"),
            ),
            (
                "v=0\nm=audio 1 RTP/AVP 0\na=ptime:twenty\n",
                3,
                Some("a=ptime"),
            ),
        ];
        for (text, expected_line, expected_field) in cases {
            match (SessionDescription::parse(text), expected_field) {
                (Err(SdpError::BadField { line, field, .. }), Some(f)) => {
                    assert_eq!((line, field), (expected_line, f), "{text:?}");
                }
                (Err(SdpError::MalformedLine { line, .. }), None) => {
                    assert_eq!(line, expected_line, "{text:?}");
                }
                (other, _) => panic!("{text:?}: {other:?}"),
            }
        }
        // Errors render as sentences a Warning header can carry.
        let e = SessionDescription::parse("v=0\nc=IN IP4 nowhere\n").expect_err("bad c=");
        assert_eq!(
            e.to_string(),
            "SDP line 2 (c=) is malformed: \"nowhere\" is not an IP address"
        );
    }

    #[test]
    fn every_prefix_of_an_offer_parses_or_fails_cleanly() {
        for end in 0..=SIPP_UAC_PCAP.len() {
            if let Ok(sdp) = SessionDescription::parse(&SIPP_UAC_PCAP[..end]) {
                let _ = answer(&sdp, &local());
            }
        }
    }

    #[test]
    fn an_outbound_offer_accepts_the_sipp_uas_answer() {
        let offer = Offer::new(&local(), &[Law::Ulaw, Law::Alaw, Law::Ulaw], Some(101));
        assert_eq!(offer.codecs, [Law::Ulaw, Law::Alaw]);
        assert_eq!(
            offer.sdp,
            "v=0\r\n\
             o=switchboard 42 1 IN IP4 127.0.0.2\r\n\
             s=switchboard\r\n\
             c=IN IP4 127.0.0.2\r\n\
             t=0 0\r\n\
             m=audio 20000 RTP/AVP 0 8 101\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\n\
             a=ptime:20\r\n\
             a=sendrecv\r\n"
        );
        // SIPp's `uas` scenario answers PCMU without telephone-event.
        let audio = offer.accept_answer(SIPP_UAC).expect("acceptable answer");
        assert_eq!(audio.remote, "127.0.0.1:6000".parse().expect("address"));
        assert_eq!((audio.law, audio.payload_type), (Law::Ulaw, 0));
        assert_eq!(audio.telephone_event, None);
    }

    #[test]
    fn our_offer_answered_by_our_answerer_agrees_on_both_sides() {
        let caller = local();
        let callee = LocalMedia {
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
            rtp_port: 30_000,
            session_id: 7,
            session_version: 7,
        };
        let offer = Offer::new(&caller, &[Law::Alaw, Law::Ulaw], Some(101));
        let answered = answer(
            &SessionDescription::parse(&offer.sdp).expect("our offer parses"),
            &callee,
        )
        .expect("acceptable");
        assert_eq!(
            answered.audio.remote,
            SocketAddr::new(caller.address, 20_000)
        );
        let agreed = offer.accept_answer(&answered.sdp).expect("acceptable");
        assert_eq!(agreed.remote, SocketAddr::new(callee.address, 30_000));
        assert_eq!(agreed.law, Law::Alaw);
        assert_eq!(agreed.law, answered.audio.law);
        assert_eq!(agreed.telephone_event, Some(101));
        assert_eq!(agreed.direction, Direction::SendRecv);
    }

    #[test]
    fn answers_we_cannot_use_are_refused() {
        let offer = Offer::new(&local(), &[Law::Ulaw], None);
        let rejected = "v=0\nc=IN IP4 10.0.0.1\nm=audio 0 RTP/AVP 0\n";
        assert_eq!(offer.accept_answer(rejected), Err(SdpError::AudioDisabled));
        let wrong_law = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 8\n";
        assert!(matches!(
            offer.accept_answer(wrong_law),
            Err(SdpError::NoCommonCodec { .. })
        ));
        // An answer listing a law we did not offer first still settles on one we did.
        let both = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 8 0\n";
        assert_eq!(offer.accept_answer(both).map(|a| a.law), Ok(Law::Ulaw));
        // Telephone-event in the answer without our offering it is not used.
        let te = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0 101\n\
                  a=rtpmap:101 telephone-event/8000\na=recvonly\n";
        let audio = offer.accept_answer(te).expect("acceptable");
        assert_eq!(audio.telephone_event, None);
        assert_eq!(audio.direction, Direction::SendOnly);
        assert_eq!(offer.accept_answer("v=0\n"), Err(SdpError::NoAudio));
    }

    #[test]
    fn error_quotes_are_shortened() {
        let long = format!("v=0\n{}\n", "x".repeat(500));
        match SessionDescription::parse(&long) {
            Err(SdpError::MalformedLine { text, .. }) => assert!(text.chars().count() <= 81),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,300}") {
            if let Ok(sdp) = SessionDescription::parse(&text) {
                let _ = answer(&sdp, &local());
            }
            let _ = Offer::new(&local(), &[Law::Ulaw], Some(101)).accept_answer(&text);
        }

        #[test]
        fn parsing_sdp_shaped_text_never_panics(
            lines in proptest::collection::vec(
                "(v|o|s|c|t|m|a)=(audio|IN|IP4|rtpmap:|ptime:|sendonly|[0-9 /.:a-zA-Z-]){0,12}",
                0..12,
            )
        ) {
            let text = format!("v=0\r\n{}", lines.join("\r\n"));
            if let Ok(sdp) = SessionDescription::parse(&text) {
                let _ = answer(&sdp, &local());
            }
        }

        #[test]
        fn parsing_arbitrary_bytes_as_lossy_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = SessionDescription::parse(&text);
        }
    }
}
