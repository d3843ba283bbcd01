//! Well-formed XML into a flat element tree, with limits, before any TwiML meaning.
//!
//! Owns the 12100 rules (VOICE-NOTES §1.2): invalid XML, no root element, a second root,
//! text outside the root, or whitespace before `<?xml` fail the whole document. quick-xml is a
//! pull parser, so nothing here recurses: open elements live on an explicit stack bounded by
//! [`MAX_DEPTH`], and the arena holds at most [`MAX_ELEMENTS`] elements (which bounds the
//! verbs, prompts and nouns a program can have). Entities are the five predefined ones and
//! character references only; a DTD is never read, so no entity can expand.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::error::ParseError;

/// Deepest nesting accepted. TwiML needs 4 (`Response > Dial > Client > Identity`); SSML
/// inside `<Say>` a few more.
pub const MAX_DEPTH: usize = 32;
/// Most elements a document may have, all levels together.
pub const MAX_ELEMENTS: usize = 1000;

/// One element: its name, attributes in document order, and its content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Child>,
}

/// Content of an element: text (entities resolved, adjacent pieces merged) or an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    Text(String),
    /// An index into [`Document::elements`].
    Element(usize),
}

/// A whole document; `elements[0]` is the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub elements: Vec<Element>,
}

impl Document {
    /// Always `Some` for a document from [`read`].
    pub fn root(&self) -> Option<&Element> {
        self.elements.first()
    }

    /// The element children of `el`, in order.
    pub fn child_elements<'a>(&'a self, el: &'a Element) -> impl Iterator<Item = &'a Element> {
        el.children.iter().filter_map(|c| match c {
            Child::Element(i) => self.elements.get(*i),
            Child::Text(_) => None,
        })
    }

    /// The text directly inside `el` (not in its children), concatenated.
    pub fn own_text(el: &Element) -> String {
        el.children
            .iter()
            .filter_map(|c| match c {
                Child::Text(t) => Some(t.as_str()),
                Child::Element(_) => None,
            })
            .collect()
    }
}

/// Read `text` as one XML document.
pub fn read(text: &str) -> Result<Document, ParseError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if body.trim_start().starts_with("<?xml") && !body.starts_with("<?xml") {
        return Err(ParseError::failure(
            "whitespace before the XML declaration <?xml …?>",
        ));
    }
    let mut reader = Reader::from_str(body);
    reader.config_mut().enable_all_checks(true);
    let mut builder = Builder::default();
    let mut first = true;
    loop {
        let event = reader.read_event().map_err(|e| {
            ParseError::failure(format!(
                "invalid XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        if matches!(event, Event::Decl(_)) && !first {
            return Err(ParseError::failure(
                "an XML declaration <?xml …?> after the start of the document",
            ));
        }
        first = false;
        match event {
            Event::Start(start) => builder.open(&start, true)?,
            Event::Empty(start) => builder.open(&start, false)?,
            Event::End(_) => builder.close(),
            Event::Text(t) => builder.text(&decoded(t.decode())?)?,
            Event::CData(t) => builder.text(&decoded(t.decode())?)?,
            Event::GeneralRef(r) => builder.text(&entity(&r)?)?,
            // Comments, processing instructions and the declaration carry no TwiML; a DTD is
            // skipped unread so it can define nothing.
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    builder.finish()
}

fn decoded<T: Into<String>, E: std::fmt::Display>(r: Result<T, E>) -> Result<String, ParseError> {
    r.map(Into::into)
        .map_err(|e| ParseError::failure(format!("invalid text: {e}")))
}

/// `&amp;` and the other predefined entities, and character references; nothing else.
fn entity(r: &BytesRef<'_>) -> Result<String, ParseError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(c.to_string()),
        Ok(None) => {}
        Err(e) => return Err(ParseError::failure(format!("invalid reference: {e}"))),
    }
    let name = decoded(r.decode())?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_owned)
        .ok_or_else(|| ParseError::failure(format!("unknown entity &{name};")))
}

/// The element stack while reading.
#[derive(Default)]
struct Builder {
    doc: Document,
    open: Vec<usize>,
    root_closed: bool,
}

impl Builder {
    fn open(&mut self, start: &BytesStart<'_>, has_content: bool) -> Result<(), ParseError> {
        if self.root_closed {
            return Err(ParseError::failure(
                "a second element after the root element",
            ));
        }
        if self.doc.elements.len() >= MAX_ELEMENTS {
            return Err(ParseError::failure(format!(
                "more than {MAX_ELEMENTS} elements"
            )));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(ParseError::failure(format!(
                "elements nested deeper than {MAX_DEPTH}"
            )));
        }
        let name = decoded(std::str::from_utf8(start.name().as_ref()))?;
        let mut attrs = Vec::new();
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| ParseError::failure(format!("<{name}>: {e}")))?;
            let key = decoded(std::str::from_utf8(attr.key.as_ref()))?;
            let value = attr
                .unescape_value()
                .map_err(|e| ParseError::failure(format!("<{name} {key}>: {e}")))?;
            attrs.push((key, value.into_owned()));
        }
        let index = self.doc.elements.len();
        self.doc.elements.push(Element {
            name,
            attrs,
            children: Vec::new(),
        });
        match self.open.last() {
            Some(&parent) => self.doc.elements[parent]
                .children
                .push(Child::Element(index)),
            None if !has_content => self.root_closed = true,
            None => {}
        }
        if has_content {
            self.open.push(index);
        }
        Ok(())
    }

    /// quick-xml has already checked that the end tag matches the open one.
    fn close(&mut self) {
        self.open.pop();
        if self.open.is_empty() {
            self.root_closed = true;
        }
    }

    fn text(&mut self, text: &str) -> Result<(), ParseError> {
        let Some(&top) = self.open.last() else {
            if text.trim().is_empty() {
                return Ok(());
            }
            return Err(ParseError::failure("text outside the root element"));
        };
        let children = &mut self.doc.elements[top].children;
        match children.last_mut() {
            Some(Child::Text(t)) => t.push_str(text),
            _ => children.push(Child::Text(text.to_owned())),
        }
        Ok(())
    }

    fn finish(self) -> Result<Document, ParseError> {
        if self.doc.elements.is_empty() {
            return Err(ParseError::failure("no root element"));
        }
        if let Some(&top) = self.open.last() {
            let name = &self.doc.elements[top].name;
            return Err(ParseError::failure(format!("<{name}> is never closed")));
        }
        Ok(self.doc)
    }
}
