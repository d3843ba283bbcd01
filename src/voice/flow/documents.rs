//! Where a call's documents come from: the fetch of the application's URL (signed, with
//! the call's cookies and Twilio's parameters), the fallback URL after a failure, the parse
//! into a program (audio and plain-text answers included), and the notifications every
//! failure or warning records. When neither URL gives a document, the caller hears Twilio's
//! application-error message.

use super::{http_method, method, Document_, Flow, Over};
use crate::media::resolver::MediaSource;
use crate::sip::leg::End;
use crate::voice::fetch::{Document, FetchError, FetchRequest, Fetched};
use switchboard_events::call::{
    CallCommand, HttpMethod, InstructionsFetched, NotificationLevel, NotificationRaised,
};
use switchboard_events::twiml::{self, Method, Program};
use switchboard_events::SidPrefix;
use tracing::{debug, info};

/// What the caller hears when the application fails and there is no fallback (Twilio's words).
const APPLICATION_ERROR: &str = "An application error has occurred. Goodbye.";

/// Documents fetched for one call at most: a Redirect loop must end.
const MAX_DOCUMENTS: usize = 1000;

impl Flow<'_> {
    /// Fetches and parses a document, with the fallback URL on failure. `Ok(None)`: neither
    /// worked (the caller hears the application error).
    pub(super) async fn document(
        &mut self,
        url: &str,
        method: Method,
        extra: Vec<(String, String)>,
    ) -> Result<Option<Document_>, Over> {
        match self.fetch_parse(url, method, extra).await? {
            Ok(doc) => Ok(Some(doc)),
            Err(code) => self.fallback(code, Some(url.to_string())).await,
        }
    }

    /// The fallback URL after error `code` at `error_url`, if the number has one.
    pub(super) async fn fallback(
        &mut self,
        code: u32,
        error_url: Option<String>,
    ) -> Result<Option<Document_>, Over> {
        let Some(fallback) = self.route.voice_fallback_url.clone() else {
            return Ok(None);
        };
        if error_url.as_deref() == Some(fallback.as_str()) {
            return Ok(None);
        }
        let params = vec![
            ("ErrorCode".to_string(), code.to_string()),
            ("ErrorUrl".to_string(), error_url.unwrap_or_default()),
        ];
        let method = method(&self.route.voice_fallback_method);
        Ok(self.fetch_parse(&fallback, method, params).await?.ok())
    }

    /// One fetch and parse: the document, or the error code (already a notification).
    pub(super) async fn fetch_parse(
        &mut self,
        url: &str,
        method: Method,
        extra: Vec<(String, String)>,
    ) -> Result<Result<Document_, u32>, Over> {
        self.fetched += 1;
        if self.fetched > MAX_DOCUMENTS {
            return Err(Over::End {
                end: End::local("too many documents for one call"),
                bye: true,
            });
        }
        let mut params = match self.controller.state() {
            Some(call) => switchboard_events::call::webhook_params(&call),
            None => Vec::new(),
        };
        params.extend(extra);
        let request = FetchRequest {
            account: self.controller.account().clone(),
            url: url.to_string(),
            method,
            params,
        };
        let fetcher = self.voice.fetcher.clone();
        let mut jar = std::mem::take(&mut self.jar);
        let fetched = self
            .guarded(async { fetcher.fetch(&request, &mut jar).await })
            .await;
        self.jar = jar;
        let fetched = match fetched? {
            Ok(fetched) => fetched,
            Err(e) => {
                let code = e.code;
                self.notify(
                    NotificationLevel::Error,
                    e.code,
                    e.message.clone(),
                    Some(&e),
                );
                return Ok(Err(code));
            }
        };
        let _ = self
            .controller
            .execute(CallCommand::RecordFetch(InstructionsFetched {
                url: fetched.url.clone(),
                method: http_method(method),
                status_code: fetched.status,
                content_type: Some(fetched.content_type.clone()).filter(|c| !c.is_empty()),
                bytes: document_len(&fetched.document) as u64,
                fallback: self.route.voice_fallback_url.as_deref() == Some(url),
            }));
        Ok(self.program(fetched))
    }

    /// The program a fetched document holds (audio and plain text become one).
    pub(super) fn program(&mut self, fetched: Fetched) -> Result<Document_, u32> {
        let base = Some(fetched.url.clone());
        let text = match fetched.document {
            Document::Twiml(text) => text,
            Document::Text(text) => match twiml::parse(&text) {
                Ok(parsed) => return Ok(self.accept(parsed, base)),
                // Plain text that is not TwiML is read aloud, then the call hangs up.
                Err(_) => return Ok(spoken(&text, base)),
            },
            Document::Audio { bytes, .. } => {
                // An audio answer is played, then the call hangs up.
                return match crate::media::audio::from_wav(&bytes) {
                    Ok(audio) => Ok(Document_ {
                        program: Program { verbs: Vec::new() },
                        url: base,
                        audio: Some(audio),
                    }),
                    Err(e) => {
                        let message = format!("the answer is audio this node cannot play: {e}");
                        self.notify(NotificationLevel::Error, 13_420, message, None);
                        Err(13_420)
                    }
                };
            }
        };
        match twiml::parse(&text) {
            Ok(parsed) => Ok(self.accept(parsed, base)),
            Err(e) => {
                self.notify(NotificationLevel::Error, e.code, e.message.clone(), None);
                Err(e.code)
            }
        }
    }

    /// A parsed document: its warnings become notifications.
    pub(super) fn accept(&mut self, parsed: twiml::Parsed, url: Option<String>) -> Document_ {
        for warning in &parsed.warnings {
            self.notify(
                NotificationLevel::Warning,
                warning.code,
                warning.message.clone(),
                None,
            );
        }
        Document_ {
            program: parsed.program,
            url,
            audio: None,
        }
    }

    /// Records a notification with Twilio's code.
    pub(super) fn notify(
        &self,
        level: NotificationLevel,
        code: u32,
        message: String,
        fetch: Option<&FetchError>,
    ) {
        info!(call_sid = %self.controller.call_sid(), code, %message, "call notification");
        let raised = NotificationRaised {
            notification_sid: crate::commands::new_sid(SidPrefix::Alert),
            error_code: code,
            log_level: level,
            message_text: message,
            request_url: fetch.map(|f| f.url.clone()).unwrap_or_default(),
            request_method: fetch.map(|f| {
                if f.method.eq_ignore_ascii_case("GET") {
                    HttpMethod::Get
                } else {
                    HttpMethod::Post
                }
            }),
            request_variables: fetch
                .map(|f| f.request_variables.clone())
                .unwrap_or_default(),
            response_headers: fetch.and_then(|f| f.response_headers.clone()),
            response_body: fetch.and_then(|f| f.response_body.clone()),
        };
        if let Err(e) = self
            .controller
            .execute(CallCommand::RaiseNotification(raised))
        {
            debug!(cause = %e, "notification not recorded");
        }
    }

    /// The application failed and no fallback helped: the caller hears Twilio's message.
    pub(super) async fn application_error_played(&mut self) -> Over {
        if let Err(over) = self.answer().await {
            return over;
        }
        let say = MediaSource::Say {
            text: APPLICATION_ERROR.to_string(),
            voice: "woman".to_string(),
            language: "en-US".to_string(),
        };
        if let Err(over) = self.play(say, 1, "application-error").await {
            return over;
        }
        Over::End {
            end: End::local("application error"),
            bye: true,
        }
    }

    /// An error before any fetch (no VoiceUrl): a notification, then the message.
    pub(super) async fn application_error(
        &mut self,
        code: u32,
        message: String,
        fetch: Option<&FetchError>,
    ) -> Over {
        self.notify(NotificationLevel::Error, code, message, fetch);
        self.application_error_played().await
    }
}

fn document_len(document: &Document) -> usize {
    match document {
        Document::Twiml(text) | Document::Text(text) => text.len(),
        Document::Audio { bytes, .. } => bytes.len(),
    }
}

/// A one-verb program that reads `text` aloud (a `text/plain` answer that is not TwiML).
fn spoken(text: &str, url: Option<String>) -> Document_ {
    let say = twiml::Say {
        text: text.to_string(),
        voice: "man".to_string(),
        language: "en-US".to_string(),
        loops: 1,
    };
    Document_ {
        program: Program {
            verbs: vec![twiml::Verb::Say(say), twiml::Verb::Hangup],
        },
        url,
        audio: None,
    }
}
