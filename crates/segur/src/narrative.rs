//! The narrative block of a CDA section (`section/text`, HL7 CDA R2 §4.3.5) as safe HTML.
//! Rather than sanitising what the sender wrote, the HTML is written anew from a closed list
//! of narrative elements: no attribute is carried over but a table cell's spans, links become
//! their text, multimedia references are dropped. Nothing active or remote can come through.

use crate::xml::{Element, Node};

/// The HTML element each narrative element becomes; the others give only their content.
fn html_name(e: &Element) -> Option<&'static str> {
    Some(match e.name.as_str() {
        "paragraph" => "p",
        "list" if e.attr("listType") == Some("ordered") => "ol",
        "list" => "ul",
        "item" => "li",
        "table" => "table",
        "caption" => "caption",
        "thead" => "thead",
        "tbody" => "tbody",
        "tfoot" => "tfoot",
        "tr" => "tr",
        "th" => "th",
        "td" => "td",
        "sub" => "sub",
        "sup" => "sup",
        "content" if style(e, "Bold") => "strong",
        "content" if style(e, "Italics") => "em",
        "content" if style(e, "Underline") => "u",
        _ => return None,
    })
}

fn style(e: &Element, word: &str) -> bool {
    e.attr("styleCode")
        .is_some_and(|s| s.split_whitespace().any(|w| w == word))
}

/// Narrative elements whose content is not shown: references to files and their anchors.
const DROPPED: &[&str] = &["renderMultiMedia", "footnoteRef", "colgroup", "col"];

pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Row and column spans, the only attributes kept, as numbers.
fn spans(e: &Element, out: &mut String) {
    for name in ["rowspan", "colspan"] {
        if let Some(n) = e.attr(name).and_then(|v| v.trim().parse::<u16>().ok()) {
            out.push_str(&format!(" {name}=\"{n}\""));
        }
    }
}

pub fn to_html(text: &Element) -> String {
    let mut out = String::new();
    // An explicit stack: the tree is already bounded in depth, this keeps the renderer so.
    enum Step<'a> {
        Open(&'a Node),
        Close(&'static str),
    }
    let mut todo: Vec<Step> = text.children.iter().rev().map(Step::Open).collect();
    while let Some(step) = todo.pop() {
        match step {
            Step::Close(name) => out.push_str(&format!("</{name}>")),
            Step::Open(Node::Text(t)) => escape(t, &mut out),
            Step::Open(Node::Element(e)) if e.name == "br" => out.push_str("<br>"),
            Step::Open(Node::Element(e)) if DROPPED.contains(&e.name.as_str()) => {}
            Step::Open(Node::Element(e)) => {
                if let Some(name) = html_name(e) {
                    out.push_str(&format!("<{name}"));
                    if name == "td" || name == "th" {
                        spans(e, &mut out);
                    }
                    out.push('>');
                    todo.push(Step::Close(name));
                }
                todo.extend(e.children.iter().rev().map(Step::Open));
            }
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    fn render(s: &str) -> String {
        to_html(parse(s.as_bytes()).unwrap().child("text").unwrap())
    }

    #[test]
    fn narrative_becomes_plain_html() {
        let html = render(
            "<text><paragraph>Bilan <content styleCode=\"Bold\">normal</content></paragraph>\
             <list listType=\"ordered\"><item>un</item></list>\
             <table border=\"1\"><tbody><tr><td colspan=\"2\" onclick=\"x\">a &lt; b</td></tr></tbody></table></text>",
        );
        assert_eq!(
            html,
            "<p>Bilan <strong>normal</strong></p><ol><li>un</li></ol>\
             <table><tbody><tr><td colspan=\"2\">a &lt; b</td></tr></tbody></table>"
        );
    }

    #[test]
    fn nothing_active_or_remote_comes_through() {
        let html = render(
            "<text><linkHtml href=\"javascript:alert(1)\">lien</linkHtml>\
             <renderMultiMedia referencedObject=\"x\"/><script>alert(1)</script>\
             <content styleCode=\"x\" style=\"background:url(http://e.fr/)\">t</content>\
             <td colspan=\"2&quot; onclick=&quot;x\">c</td></text>",
        );
        assert!(!html.contains("href") && !html.contains("url(") && !html.contains("<script"));
        assert!(!html.contains("onclick") && html.contains("lien") && html.contains("alert(1)"));
    }
}
