//! What a session runs for each command, as plain state machines with no socket: each is
//! advanced by the 20 ms pacer ([`Job::tick`]) and by what the peer sends (a key press, a
//! frame of audio), and says what to send and when it is done. The engine (`engine.rs`)
//! does the sending.
//!
//! The invariant this file protects is `<Gather>`'s rules (VOICE-NOTES 1.7): the prompts play
//! in order until a key is pressed (barge-in), the timeout starts when the prompts end or at
//! the first key and restarts after each key, `numDigits` submits at once, the finish key
//! submits and is not part of the digits (pressed first, it submits an empty input).

use super::audio::Audio;
use super::relay::{RelayPort, Retimer};
use super::session::{CollectRules, MediaCommand, MediaEvent, Prompt};
use super::stream::FRAME;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use switchboard_telephony::dtmf_send::{self, EventPacket};
use switchboard_telephony::sdp::NegotiatedAudio;
use switchboard_telephony::Law;

/// `loop="0"`: Twilio repeats "until hangup or 1000 iterations".
const ENDLESS_LOOPS: u32 = 1000;
/// A received frame whose RMS is above this (about −40 dBFS) is voice for `Record`'s
/// silence timeout.
const VOICE_RMS: f64 = 330.0;

/// What one pacer tick asks the engine to do.
#[derive(Debug, Default)]
pub(crate) struct Step {
    /// Audio to send now (one 20 ms frame).
    pub frame: Option<Vec<i16>>,
    /// RFC 4733 packets due now.
    pub events: Vec<EventPacket>,
    /// Nothing is sent for a while: the talkspurt ends.
    pub silent: bool,
    /// The job is done with this terminal event.
    pub done: Option<MediaEvent>,
}

/// The running command.
pub(crate) enum Job {
    Play {
        id: u64,
        player: Player,
    },
    Silence {
        id: u64,
        ticks_left: u64,
    },
    /// RFC 4733 events; `base` is the RTP timestamp of the string's start.
    Digits {
        id: u64,
        base: u32,
        schedule: Vec<EventPacket>,
        next: usize,
        ticks: u32,
        total: u32,
    },
    /// In-band DTMF for a leg without telephone-event.
    Tones {
        id: u64,
        player: Player,
    },
    Collect(Collect),
    Record(Record),
    Relay {
        id: u64,
        port: RelayPort,
        retimer: Retimer,
    },
}

impl Job {
    /// The job for `command`, or the terminal event of one that has nothing to do.
    pub(crate) fn from_command(
        command: MediaCommand,
        audio: &NegotiatedAudio,
        now: Instant,
    ) -> Result<Job, MediaEvent> {
        match command {
            MediaCommand::Play { id, audio, loops } => Ok(Job::Play {
                id,
                player: Player::new(audio, loops),
            }),
            MediaCommand::Silence { id, ms } => Ok(Job::Silence {
                id,
                ticks_left: ms.div_ceil(20),
            }),
            MediaCommand::SendDigits { id, digits } => {
                let valid: String = digits
                    .chars()
                    .filter(|&c| {
                        let ok = dtmf_send::is_sendable(c);
                        if !ok {
                            tracing::warn!(id, digit = ?c, "not a DTMF digit; skipped");
                        }
                        ok
                    })
                    .collect();
                if audio.telephone_event.is_some() {
                    let schedule =
                        dtmf_send::schedule(&valid).unwrap_or_else(|_| dtmf_send::EventSchedule {
                            packets: Vec::new(),
                            total_samples: 0,
                        });
                    Ok(Job::Digits {
                        id,
                        base: 0,
                        schedule: schedule.packets,
                        next: 0,
                        ticks: 0,
                        total: schedule.total_samples,
                    })
                } else {
                    let tones = dtmf_send::tones(&valid).unwrap_or_default();
                    Ok(Job::Tones {
                        id,
                        player: Player::new(Audio::new(tones), 1),
                    })
                }
            }
            MediaCommand::Collect { id, prompts, rules } => {
                Ok(Job::Collect(Collect::new(id, prompts, rules, now)))
            }
            MediaCommand::Record {
                id,
                max,
                finish_on_key,
                silence_timeout,
            } => Ok(Job::Record(Record::new(
                id,
                max,
                finish_on_key,
                silence_timeout,
                now,
            ))),
            MediaCommand::Relay { id, peer } => Ok(Job::Relay {
                id,
                port: peer,
                retimer: Retimer::default(),
            }),
            // The engine handles these itself; they never become a job.
            MediaCommand::Stop | MediaCommand::StopAll => Err(MediaEvent::Stopped { id: 0 }),
        }
    }

    /// The terminal event of the job cut short: `reason` is `"stop"` or `"hangup"`.
    pub(crate) fn stopped(self, reason: &str) -> MediaEvent {
        match self {
            Job::Play { id, player } => MediaEvent::Played {
                id,
                packets: player.packets,
                completed: false,
            },
            Job::Record(mut record) => record.done(reason),
            Job::Silence { id, .. }
            | Job::Digits { id, .. }
            | Job::Tones { id, .. }
            | Job::Relay { id, .. } => MediaEvent::Stopped { id },
            Job::Collect(collect) => MediaEvent::Stopped { id: collect.id },
        }
    }

    /// One 20 ms step.
    pub(crate) fn tick(&mut self, now: Instant) -> Step {
        match self {
            Job::Play { id, player } => match player.next_frame() {
                Some(frame) => Step::frame(frame),
                None => Step::done(MediaEvent::Played {
                    id: *id,
                    packets: player.packets,
                    completed: true,
                }),
            },
            Job::Tones { id, player } => match player.next_frame() {
                Some(frame) => Step::frame(frame),
                None => Step::done(MediaEvent::DigitsSent { id: *id }),
            },
            Job::Silence { id, ticks_left } => {
                if *ticks_left == 0 {
                    Step::done(MediaEvent::SilenceDone { id: *id })
                } else {
                    *ticks_left -= 1;
                    Step::silent()
                }
            }
            Job::Digits {
                id,
                schedule,
                next,
                ticks,
                total,
                ..
            } => {
                let elapsed = *ticks * FRAME as u32;
                let mut step = Step::default();
                while let Some(packet) = schedule.get(*next).filter(|p| p.send_at <= elapsed) {
                    step.events.push(*packet);
                    *next += 1;
                }
                *ticks += 1;
                if *next == schedule.len() && elapsed >= *total {
                    step.done = Some(MediaEvent::DigitsSent { id: *id });
                }
                step
            }
            Job::Collect(collect) => collect.tick(now),
            Job::Record(record) => record.tick(now),
            Job::Relay { .. } => Step::default(),
        }
    }
}

impl Step {
    fn frame(frame: Vec<i16>) -> Step {
        Step {
            frame: Some(frame),
            ..Step::default()
        }
    }

    fn silent() -> Step {
        Step {
            silent: true,
            ..Step::default()
        }
    }

    fn done(event: MediaEvent) -> Step {
        Step {
            done: Some(event),
            ..Step::default()
        }
    }
}

/// Plays audio `loops` times as 20 ms frames; loops join without a gap, and only the very
/// last frame is padded with silence.
#[derive(Debug)]
pub(crate) struct Player {
    audio: Audio,
    loops_left: u32,
    pos: usize,
    /// Frames handed out.
    pub packets: u64,
}

impl Player {
    pub(crate) fn new(audio: Audio, loops: u32) -> Player {
        Player {
            audio,
            loops_left: if loops == 0 { ENDLESS_LOOPS } else { loops },
            pos: 0,
            packets: 0,
        }
    }

    /// The next frame, or `None` at the end.
    pub(crate) fn next_frame(&mut self) -> Option<Vec<i16>> {
        let samples = &self.audio.samples;
        if samples.is_empty() {
            return None;
        }
        let mut frame = Vec::with_capacity(FRAME);
        while frame.len() < FRAME {
            if self.pos == samples.len() {
                if self.loops_left <= 1 {
                    break;
                }
                self.loops_left -= 1;
                self.pos = 0;
            }
            let take = (FRAME - frame.len()).min(samples.len() - self.pos);
            frame.extend_from_slice(&samples[self.pos..self.pos + take]);
            self.pos += take;
        }
        if frame.is_empty() {
            return None;
        }
        frame.resize(FRAME, 0);
        self.packets += 1;
        Some(frame)
    }
}

/// The prompt playing now.
enum PromptRun {
    Audio(Player),
    Silence(u64),
}

/// A `<Gather>` (see the module doc).
pub(crate) struct Collect {
    pub id: u64,
    prompts: VecDeque<Prompt>,
    current: Option<PromptRun>,
    prompting: bool,
    digits: String,
    rules: CollectRules,
    deadline: Option<Instant>,
}

impl Collect {
    fn new(id: u64, prompts: Vec<Prompt>, rules: CollectRules, now: Instant) -> Collect {
        let prompting = !prompts.is_empty();
        Collect {
            id,
            prompts: prompts.into(),
            current: None,
            prompting,
            digits: String::new(),
            deadline: (!prompting).then(|| now + rules.timeout),
            rules,
        }
    }

    /// Whether a prompt is still playing (or due).
    pub(crate) fn prompting(&self) -> bool {
        self.prompting
    }

    fn tick(&mut self, now: Instant) -> Step {
        while self.prompting {
            match &mut self.current {
                None => match self.prompts.pop_front() {
                    Some(Prompt::Audio { audio, loops }) => {
                        self.current = Some(PromptRun::Audio(Player::new(audio, loops)))
                    }
                    Some(Prompt::Silence { ms }) => {
                        self.current = Some(PromptRun::Silence(ms.div_ceil(20)))
                    }
                    None => {
                        // The prompts are over: the timeout starts now.
                        self.prompting = false;
                        self.deadline.get_or_insert(now + self.rules.timeout);
                        return Step::silent();
                    }
                },
                Some(PromptRun::Audio(player)) => match player.next_frame() {
                    Some(frame) => return Step::frame(frame),
                    None => self.current = None,
                },
                Some(PromptRun::Silence(ticks)) => {
                    if *ticks == 0 {
                        self.current = None;
                    } else {
                        *ticks -= 1;
                        return Step::silent();
                    }
                }
            }
        }
        match self.deadline {
            Some(deadline) if now >= deadline => Step::done(self.result(None, true)),
            _ => Step::default(),
        }
    }

    /// A key press: stops the prompts, and may end the gather.
    pub(crate) fn on_digit(&mut self, digit: char, now: Instant) -> Option<MediaEvent> {
        self.prompting = false;
        self.current = None;
        self.prompts.clear();
        if self.rules.finish_on_key == Some(digit) {
            return Some(self.result(Some(digit), false));
        }
        self.digits.push(digit);
        let enough = self
            .rules
            .num_digits
            .is_some_and(|n| self.digits.chars().count() >= n as usize);
        if enough {
            return Some(self.result(None, false));
        }
        // The timeout also measures the time between keys.
        self.deadline = Some(now + self.rules.timeout);
        None
    }

    fn result(&mut self, finished_on_key: Option<char>, timed_out: bool) -> MediaEvent {
        MediaEvent::Collected {
            id: self.id,
            digits: std::mem::take(&mut self.digits),
            finished_on_key,
            timed_out,
        }
    }
}

/// A basic `<Record>`: what the peer sends, decoded, kept in memory.
pub(crate) struct Record {
    id: u64,
    samples: Vec<i16>,
    max_samples: usize,
    deadline: Instant,
    finish_on_key: String,
    silence_timeout: Option<Duration>,
    last_voice: Instant,
}

impl Record {
    fn new(
        id: u64,
        max: Duration,
        finish_on_key: Option<String>,
        silence_timeout: Option<Duration>,
        now: Instant,
    ) -> Record {
        let max_samples = usize::try_from(max.as_millis() * 8).unwrap_or(usize::MAX);
        Record {
            id,
            samples: Vec::new(),
            max_samples,
            deadline: now + max,
            finish_on_key: finish_on_key.unwrap_or_default(),
            silence_timeout,
            last_voice: now,
        }
    }

    /// A received audio payload.
    pub(crate) fn on_audio(
        &mut self,
        law: Law,
        payload: &[u8],
        now: Instant,
    ) -> Option<MediaEvent> {
        let frame = law.decode_bytes(payload);
        let energy: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        if !frame.is_empty() && (energy / frame.len() as f64).sqrt() > VOICE_RMS {
            self.last_voice = now;
        }
        let room = self.max_samples.saturating_sub(self.samples.len());
        self.samples.extend(frame.iter().take(room));
        (self.samples.len() >= self.max_samples).then(|| self.done("max-length"))
    }

    /// A key press: one of the finish keys ends the recording.
    pub(crate) fn on_digit(&mut self, digit: char) -> Option<MediaEvent> {
        self.finish_on_key
            .contains(digit)
            .then(|| self.done("finish-key"))
    }

    fn tick(&mut self, now: Instant) -> Step {
        if now >= self.deadline {
            return Step::done(self.done("max-length"));
        }
        match self.silence_timeout {
            Some(quiet) if now.saturating_duration_since(self.last_voice) >= quiet => {
                Step::done(self.done("silence"))
            }
            _ => Step::default(),
        }
    }

    fn done(&mut self, ended_by: &str) -> MediaEvent {
        MediaEvent::Recorded {
            id: self.id,
            audio: Audio::new(std::mem::take(&mut self.samples)),
            ended_by: ended_by.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(num_digits: Option<u32>, finish: Option<char>) -> CollectRules {
        CollectRules {
            num_digits,
            finish_on_key: finish,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn loops_join_without_gaps_and_only_the_end_is_padded() {
        let audio = Audio::new((1..=100).collect());
        let mut p = Player::new(audio, 3);
        let a = p.next_frame().expect("frame");
        assert_eq!(&a[..100], &(1..=100).collect::<Vec<i16>>()[..]);
        assert_eq!(&a[100..], &(1..=60).collect::<Vec<i16>>()[..]);
        let b = p.next_frame().expect("frame");
        assert_eq!(&b[..40], &(61..=100).collect::<Vec<i16>>()[..]);
        assert_eq!(b[40], 1);
        assert_eq!(&b[140..], &[0; 20]);
        assert!(p.next_frame().is_none());
        assert_eq!(p.packets, 2);
        assert!(Player::new(Audio::new(vec![]), 0).next_frame().is_none());
    }

    #[test]
    fn gather_timeout_starts_after_the_prompts_and_restarts_per_key() {
        let t0 = Instant::now();
        let prompt = Prompt::Audio {
            audio: Audio::new(vec![5; 320]),
            loops: 1,
        };
        let mut c = Collect::new(1, vec![prompt], rules(None, Some('#')), t0);
        assert!(c.tick(t0).frame.is_some());
        assert!(c.tick(t0).frame.is_some());
        // Prompts over at t0 + 10 s: the timeout counts from there.
        let later = t0 + Duration::from_secs(10);
        assert!(c.tick(later).silent);
        assert!(c.tick(later + Duration::from_secs(4)).done.is_none());
        assert_eq!(c.on_digit('4', later + Duration::from_secs(4)), None);
        assert!(c.tick(later + Duration::from_secs(8)).done.is_none());
        assert_eq!(
            c.tick(later + Duration::from_secs(9)).done,
            Some(MediaEvent::Collected {
                id: 1,
                digits: "4".into(),
                finished_on_key: None,
                timed_out: true
            })
        );
    }

    #[test]
    fn num_digits_and_the_finish_key_submit_and_a_key_stops_the_prompt() {
        let t0 = Instant::now();
        let long = Prompt::Audio {
            audio: Audio::new(vec![5; 8000]),
            loops: 1,
        };
        let mut c = Collect::new(2, vec![long.clone()], rules(Some(2), Some('#')), t0);
        assert!(c.tick(t0).frame.is_some());
        assert_eq!(c.on_digit('1', t0), None);
        assert!(!c.prompting() && c.tick(t0).frame.is_none(), "barge-in");
        assert_eq!(
            c.on_digit('2', t0),
            Some(MediaEvent::Collected {
                id: 2,
                digits: "12".into(),
                finished_on_key: None,
                timed_out: false
            })
        );
        let mut c = Collect::new(3, vec![long], rules(None, Some('#')), t0);
        assert_eq!(
            c.on_digit('#', t0),
            Some(MediaEvent::Collected {
                id: 3,
                digits: String::new(),
                finished_on_key: Some('#'),
                timed_out: false
            }),
            "finish key first: empty input"
        );
    }

    #[test]
    fn record_ends_on_a_finish_key_on_silence_and_at_its_maximum() {
        let t0 = Instant::now();
        let mut r = Record::new(
            4,
            Duration::from_secs(10),
            Some("#".into()),
            Some(Duration::from_secs(2)),
            t0,
        );
        let loud = Law::Ulaw.encode_samples(&[8000i16; 160]);
        let quiet = [0xFFu8; 160];
        assert_eq!(
            r.on_audio(Law::Ulaw, &loud, t0 + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            r.on_audio(Law::Ulaw, &quiet, t0 + Duration::from_secs(2)),
            None
        );
        assert!(r.tick(t0 + Duration::from_millis(2900)).done.is_none());
        match r.tick(t0 + Duration::from_secs(3)).done {
            Some(MediaEvent::Recorded {
                audio, ended_by, ..
            }) => {
                assert_eq!(ended_by, "silence");
                assert_eq!(audio.len(), 320);
            }
            other => panic!("{other:?}"),
        }
        let mut r = Record::new(5, Duration::from_millis(30), Some("#".into()), None, t0);
        assert_eq!(r.on_digit('1'), None);
        assert!(
            matches!(r.on_digit('#'), Some(MediaEvent::Recorded { ended_by, .. }) if ended_by == "finish-key")
        );
        assert!(matches!(
            r.on_audio(Law::Ulaw, &[0xFF; 240], t0),
            Some(MediaEvent::Recorded { audio, .. }) if audio.len() == 240
        ));
    }
}
