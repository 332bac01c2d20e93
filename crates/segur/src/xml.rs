//! A tolerant XML tree. Real senders' metadata is not always well-formed: the ANS DRIM-M
//! `METADATA.XML` is a fragment cut out of a SOAP message, with an undeclared `ns3:` prefix
//! (segur-documents.md §1). So names are kept without their prefixes, namespaces are not
//! resolved, end tags need not match, and what is left open at the end is closed. Depth and
//! size are bounded: the input comes from outside.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Deepest nesting followed (a CDA is a dozen levels deep; its narrative a few more).
pub const MAX_DEPTH: usize = 256;
/// Most elements and texts in one document.
pub const MAX_NODES: usize = 2_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("not XML: {0}")]
    Syntax(String),
    #[error("XML nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("XML with more than {MAX_NODES} elements")]
    TooLarge,
    #[error("no element in the document")]
    Empty,
}

#[derive(Debug, Clone, Default)]
pub struct Element {
    /// The local name, without its prefix.
    pub name: String,
    /// Attribute local names and unescaped values.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone)]
pub enum Node {
    Element(Element),
    Text(String),
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.into_owned(),
    }
}

fn element(start: &BytesStart) -> Element {
    let attrs = start
        .attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .map(|a| {
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
            (local(a.key.as_ref()), value)
        })
        .collect();
    Element {
        name: local(start.name().as_ref()),
        attrs,
        children: Vec::new(),
    }
}

/// Parses `bytes` (UTF-8, a byte-order mark allowed) into a tree under a nameless root, which
/// holds every top-level element (a fragment may have several).
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = Reader::from_reader(bytes);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    let mut stack = vec![Element::default()];
    let mut nodes = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| XmlError::Syntax(e.to_string()))?;
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(XmlError::TooLarge);
        }
        match event {
            Event::Start(start) => {
                if stack.len() > MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(element(&start));
            }
            Event::Empty(start) => {
                let e = element(&start);
                stack.last_mut().expect("root").children.push(Node::Element(e));
            }
            // An end tag closes the innermost open element, whatever its name.
            Event::End(_) if stack.len() > 1 => {
                let done = stack.pop().expect("checked");
                stack.last_mut().expect("root").children.push(Node::Element(done));
            }
            // Text outside any element (a fragment's indentation) is dropped.
            Event::Text(t) if stack.len() > 1 => {
                let text = t
                    .unescape()
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&t).into_owned());
                stack.last_mut().expect("root").children.push(Node::Text(text));
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t).into_owned();
                stack.last_mut().expect("root").children.push(Node::Text(text));
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    // What is left open is closed: a truncated document still shows what it has.
    while stack.len() > 1 {
        let done = stack.pop().expect("checked");
        stack.last_mut().expect("root").children.push(Node::Element(done));
    }
    let root = stack.pop().expect("root");
    if !root.children.iter().any(|n| matches!(n, Node::Element(_))) {
        return Err(XmlError::Empty);
    }
    Ok(root)
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The child elements named `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// Down a path of child names, the first match at each step.
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// Every element named `name` below this one, in document order.
    pub fn descendants<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        let mut found = Vec::new();
        let mut todo: Vec<&Element> = vec![self];
        while let Some(e) = todo.pop() {
            if e.name == name && !std::ptr::eq(e, self) {
                found.push(e);
            }
            let kids: Vec<&Element> = e.elements().collect();
            todo.extend(kids.into_iter().rev());
        }
        found
    }

    /// All the text below, its runs of white space made one space.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut todo: Vec<&Node> = self.children.iter().rev().collect();
        while let Some(n) = todo.pop() {
            match n {
                Node::Text(t) => {
                    out.push(' ');
                    out.push_str(t);
                }
                Node::Element(e) => todo.extend(e.children.iter().rev()),
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_with_undeclared_prefixes_are_read() {
        let root = parse(b"\r\n\t<ns3:Req><List><A v=\"x&amp;y\"/><B>un &amp; deux</B></List></ns3:Req>").unwrap();
        let req = root.child("Req").unwrap();
        assert_eq!(req.at(&["List", "A"]).unwrap().attr("v"), Some("x&y"));
        assert_eq!(req.at(&["List", "B"]).unwrap().text(), "un & deux");
        assert_eq!(root.descendants("A").len(), 1);
    }

    #[test]
    fn broken_documents_keep_what_they_have() {
        // Mismatched and missing end tags, an unknown entity.
        let root = parse(b"<a><b>t&nbsp;</c><d>deux").unwrap();
        assert_eq!(root.descendants("d")[0].text(), "deux");
        assert!(root.descendants("b")[0].text().contains('t'));
        assert_eq!(parse(b"   ").unwrap_err(), XmlError::Empty);
        assert_eq!(parse(b"just text").unwrap_err(), XmlError::Empty);
    }

    #[test]
    fn hostile_depth_is_refused() {
        let deep = "<a>".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(deep.as_bytes()).unwrap_err(), XmlError::TooDeep);
    }
}
