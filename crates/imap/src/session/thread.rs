//! IMAP THREAD (RFC 5256): the ORDEREDSUBJECT (§2.1 + base subject) and REFERENCES (§2.2)
//! threading algorithms, producing the thread list of the `* THREAD` response.
//!
//! Both functions take the messages in sequence order and a base-subject function (RFC 5256
//! §2.1, already upper-cased so that equal strings mean i;ascii-casemap equality). Sent dates
//! are compared as given; equal dates fall back to the order of the messages in the slice
//! (sequence order). All tree walks are iterative, so long reply chains cannot overflow the
//! stack.

use std::collections::HashMap;

/// One message as the threading algorithms see it.
pub struct ThreadMessage {
    /// The number to print: sequence number, or UID for UID THREAD.
    pub id: u32,
    /// Raw header values (unfolded, not decoded), None when the field is absent.
    pub message_id: Option<String>,
    pub references: Option<String>,
    pub in_reply_to: Option<String>,
    /// Subject already decoded from RFC 2047 (pass it to base_subject yourself).
    pub subject: Option<String>,
    /// Sent date (Date: header) in seconds since the epoch; the caller already falls back to
    /// the internal date when Date: is missing or invalid (RFC 5256 §2.2 "sent date").
    pub date: i64,
}

/// Sort key of a message: sent date, then position in sequence order.
type Key = (i64, usize);

// ---------------------------------------------------------------------------------------------
// ORDEREDSUBJECT
// ---------------------------------------------------------------------------------------------

/// A threading algorithm: messages in sequence order and the base-subject function.
pub type Algorithm = fn(&[ThreadMessage], fn(&str) -> String) -> String;

/// THREAD=ORDEREDSUBJECT: messages grouped by base subject; inside a group sorted by sent date,
/// the first one is the root and all the others are its children (siblings of one another);
/// groups sorted by the sent date of their first message.
pub fn ordered_subject(messages: &[ThreadMessage], base_subject: fn(&str) -> String) -> String {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_subject: HashMap<String, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let subject = base_subject(m.subject.as_deref().unwrap_or(""));
        let g = *by_subject.entry(subject).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let key = |i: usize| -> Key { (messages[i].date, i) };
    for g in &mut groups {
        g.sort_by_key(|&i| key(i));
    }
    groups.sort_by_key(|g| key(g[0]));

    let mut out = String::new();
    for g in &groups {
        out.push('(');
        out.push_str(&messages[g[0]].id.to_string());
        match g.len() {
            1 => {}
            2 => {
                out.push(' ');
                out.push_str(&messages[g[1]].id.to_string());
            }
            _ => {
                out.push(' ');
                for &i in &g[1..] {
                    out.push('(');
                    out.push_str(&messages[i].id.to_string());
                    out.push(')');
                }
            }
        }
        out.push(')');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// REFERENCES
// ---------------------------------------------------------------------------------------------

/// A node of the thread forest: a message, or a dummy (message-id seen only in references, or
/// a parent created by the subject merge of step 5).
struct Node {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Forest {
    nodes: Vec<Node>,
}

impl Forest {
    fn add(&mut self, msg: Option<usize>) -> usize {
        self.nodes.push(Node {
            msg,
            parent: None,
            children: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Whether `ancestor` is `node` or one of its ancestors.
    fn is_ancestor_or_self(&self, ancestor: usize, node: usize) -> bool {
        let mut cur = Some(node);
        while let Some(n) = cur {
            if n == ancestor {
                return true;
            }
            cur = self.nodes[n].parent;
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|&c| c != child);
        }
    }

    /// Makes `parent` the parent of `child` (which must have none), unless that would
    /// introduce a loop (parent is child or one of its descendants). Returns whether linked.
    fn link(&mut self, parent: usize, child: usize) -> bool {
        debug_assert!(self.nodes[child].parent.is_none());
        if self.is_ancestor_or_self(child, parent) {
            return false;
        }
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
        true
    }

    /// Nodes reachable from `top` (excluded), parents before their children.
    fn preorder(&self, top: usize) -> Vec<usize> {
        let mut order = Vec::new();
        let mut stack: Vec<usize> = self.nodes[top].children.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            order.push(n);
            stack.extend(self.nodes[n].children.iter().rev().copied());
        }
        order
    }
}

/// Message-IDs of a header field (RFC 5322 msg-id, obsolete forms tolerated), in order, in a
/// normalised form: without the angle brackets, comments, folding white space, quoting and
/// quoted-pair backslashes (RFC 5256 §2.2 asks to normalise quoting so that
/// `<"01KF8J"@x.y>` and `<01KF8J@x.y>` match). Comparison of the result is case-sensitive
/// (octet by octet): RFC 5256 only normalises quoting. Invalid ids (no `@`, empty id-left or
/// id-right, unterminated) are skipped.
fn parse_msg_ids(field: &str) -> Vec<String> {
    let chars: Vec<char> = field.chars().collect();
    let mut ids = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '(' => i = skip_comment(&chars, i),
            '"' => i = skip_quoted(&chars, i, None),
            '<' => {
                let (next, id) = parse_angle(&chars, i);
                if let Some(id) = id
                    && let Some(at) = id.rfind('@')
                    && at > 0
                    && at + 1 < id.len()
                {
                    ids.push(id);
                }
                i = next;
            }
            _ => i += 1,
        }
    }
    ids
}

/// Skips a (possibly nested) comment starting at `chars[start] == '('`; returns the index after.
fn skip_comment(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// Skips a quoted string starting at `chars[start] == '"'`, appending its unescaped content to
/// `into` when given; returns the index after the closing quote.
fn skip_quoted(chars: &[char], start: usize, mut into: Option<&mut String>) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return i + 1,
            '\\' if i + 1 < chars.len() => {
                if let Some(s) = into.as_deref_mut() {
                    s.push(chars[i + 1]);
                }
                i += 1;
            }
            '\r' | '\n' => {}
            c => {
                if let Some(s) = into.as_deref_mut() {
                    s.push(c);
                }
            }
        }
        i += 1;
    }
    chars.len()
}

/// Parses `<...>` starting at `chars[start] == '<'`. Returns the index to continue from and
/// the normalised content, None when the bracket is not closed or the content is empty.
fn parse_angle(chars: &[char], start: usize) -> (usize, Option<String>) {
    let mut id = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '>' => return (i + 1, (!id.is_empty()).then_some(id)),
            // A new '<' before '>': the previous one was junk, restart there.
            '<' => return (i, None),
            '"' => {
                i = skip_quoted(chars, i, Some(&mut id));
                continue;
            }
            '(' => {
                i = skip_comment(chars, i);
                continue;
            }
            '\\' if i + 1 < chars.len() => {
                id.push(chars[i + 1]);
                i += 1;
            }
            c if c.is_whitespace() => {}
            c => id.push(c),
        }
        i += 1;
    }
    (chars.len(), None)
}

/// Whether the subject marks a reply or forward for REFERENCES step 5: extracting its base
/// subject removes a `re:`/`fw:`/`fwd:` leader, a `(fwd)` trailer or a `[fwd: ...]` wrapper
/// (merely removing `[blob]` prefixes does not count).
fn is_reply_or_forward(subject: &str) -> bool {
    let s = subject
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let mut s = s.as_str();
    if s.ends_with("(fwd)") {
        return true;
    }
    // Leading [blob]s that leave something behind.
    while let Some(end) = leading_blob_end(s) {
        let rest = s[end..].trim_start();
        if rest.is_empty() {
            break;
        }
        s = rest;
    }
    for prefix in ["re", "fwd", "fw"] {
        if let Some(r) = s.strip_prefix(prefix) {
            let mut r = r.trim_start();
            if let Some(end) = leading_blob_end(r) {
                r = r[end..].trim_start();
            }
            if r.starts_with(':') {
                return true;
            }
        }
    }
    // Otherwise only a `[fwd: ...]` wrapper marks a forward.
    s.starts_with("[fwd:") && s.ends_with(']')
}

/// Byte index just after a leading `[blob]` (blob chars exclude `[` and `]`).
fn leading_blob_end(s: &str) -> Option<usize> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(['[', ']'])?;
    (inner.as_bytes()[end] == b']').then_some(end + 2)
}

/// THREAD=REFERENCES (RFC 5256 §2.2), steps 1 to 6 and the output format.
pub fn references(messages: &[ThreadMessage], base_subject: fn(&str) -> String) -> String {
    let mut forest = Forest {
        nodes: Vec::with_capacity(messages.len() * 2 + 1),
    };
    let mut table: HashMap<String, usize> = HashMap::new();

    // Step 1: the id table and the parent/child links.
    for (i, m) in messages.iter().enumerate() {
        // The message's own node: the first message with a valid Message-ID owns it; a missing,
        // invalid or duplicate Message-ID gets a unique node of its own.
        let own_id = m
            .message_id
            .as_deref()
            .and_then(|f| parse_msg_ids(f).into_iter().next());
        let node = match own_id {
            Some(id) => match table.get(&id) {
                Some(&n) if forest.nodes[n].msg.is_none() => {
                    forest.nodes[n].msg = Some(i);
                    n
                }
                Some(_) => forest.add(Some(i)),
                None => {
                    let n = forest.add(Some(i));
                    table.insert(id, n);
                    n
                }
            },
            None => forest.add(Some(i)),
        };

        // References, or else the first valid msg-id of In-Reply-To.
        let mut refs = m.references.as_deref().map(parse_msg_ids).unwrap_or_default();
        if refs.is_empty()
            && let Some(first) = m
                .in_reply_to
                .as_deref()
                .and_then(|f| parse_msg_ids(f).into_iter().next())
        {
            refs.push(first);
        }
        let ref_nodes: Vec<usize> = refs
            .into_iter()
            .map(|id| *table.entry(id).or_insert_with(|| forest.add(None)))
            .collect();

        // 1.A: chain the references, keeping existing parents and never creating a loop.
        for pair in ref_nodes.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            if forest.nodes[child].parent.is_none() {
                forest.link(parent, child);
            }
        }
        // 1.B: the last reference becomes the parent of this message, replacing any parent
        // inferred from other messages; no link if it would introduce a loop.
        forest.unlink(node);
        if let Some(&last) = ref_nodes.last() {
            forest.link(last, node);
        }
    }

    // Step 2: the root set, under a virtual root node.
    let root = forest.add(None);
    for n in 0..root {
        if forest.nodes[n].parent.is_none() {
            forest.nodes[n].parent = Some(root);
            forest.nodes[root].children.push(n);
        }
    }

    // Step 3: prune dummies, children before parents.
    let mut order = forest.preorder(root);
    order.insert(0, root);
    for &n in order.iter().rev() {
        let children = std::mem::take(&mut forest.nodes[n].children);
        let mut kept = Vec::with_capacity(children.len());
        for c in children {
            if forest.nodes[c].msg.is_some() {
                kept.push(c);
                continue;
            }
            let grand = &forest.nodes[c].children;
            if grand.is_empty() {
                continue; // dummy without children: delete.
            }
            if n != root || grand.len() == 1 {
                // Promote the children to this level.
                let grand = std::mem::take(&mut forest.nodes[c].children);
                for &g in &grand {
                    forest.nodes[g].parent = Some(n);
                }
                kept.extend(grand);
            } else {
                kept.push(c); // dummy root with several children stays.
            }
        }
        forest.nodes[n].children = kept;
    }

    // Step 4: sort by sent date (the whole tree: dummies need their children sorted).
    sort_tree(&mut forest, root, messages);

    // Step 5: merge threads by base subject.
    let roots = forest.nodes[root].children.clone();
    let thread_subject = |forest: &Forest, n: usize| -> String {
        let node = &forest.nodes[n];
        let msg = node
            .msg
            .or_else(|| node.children.first().and_then(|&c| forest.nodes[c].msg));
        msg.map(|i| base_subject(messages[i].subject.as_deref().unwrap_or("")))
            .unwrap_or_default()
    };
    let subjects: Vec<String> = roots.iter().map(|&n| thread_subject(&forest, n)).collect();
    let reply = |forest: &Forest, n: usize| -> bool {
        forest.nodes[n]
            .msg
            .is_some_and(|i| is_reply_or_forward(messages[i].subject.as_deref().unwrap_or("")))
    };
    // 5.A: the subject table.
    let mut by_subject: HashMap<&str, usize> = HashMap::new();
    for (&n, subject) in roots.iter().zip(&subjects) {
        if subject.is_empty() {
            continue;
        }
        match by_subject.get(subject.as_str()) {
            None => {
                by_subject.insert(subject, n);
            }
            Some(&old) => {
                let is_dummy = forest.nodes[n].msg.is_none();
                if forest.nodes[old].msg.is_some() && (is_dummy || (reply(&forest, old) && !reply(&forest, n))) {
                    by_subject.insert(subject, n);
                }
            }
        }
    }
    // 5.B: merge the threads with the same subject.
    let mut new_roots: Vec<usize> = Vec::new();
    let mut removed = vec![false; forest.nodes.len()];
    for (&n, subject) in roots.iter().zip(&subjects) {
        if subject.is_empty() {
            continue;
        }
        let old = by_subject[subject.as_str()];
        if old == n {
            continue;
        }
        let cur_dummy = forest.nodes[n].msg.is_none();
        let old_dummy = forest.nodes[old].msg.is_none();
        if cur_dummy && old_dummy {
            let children = std::mem::take(&mut forest.nodes[n].children);
            for &c in &children {
                forest.nodes[c].parent = Some(old);
            }
            forest.nodes[old].children.extend(children);
            removed[n] = true;
        } else if old_dummy || (reply(&forest, n) && !reply(&forest, old)) {
            forest.nodes[n].parent = Some(old);
            forest.nodes[old].children.push(n);
            removed[n] = true;
        } else {
            let dummy = forest.add(None);
            removed.push(false);
            for c in [old, n] {
                forest.nodes[c].parent = Some(dummy);
                forest.nodes[dummy].children.push(c);
                removed[c] = true;
            }
            forest.nodes[dummy].parent = Some(root);
            new_roots.push(dummy);
            by_subject.insert(subject, dummy);
        }
    }
    let mut final_roots: Vec<usize> = roots.into_iter().filter(|&n| !removed[n]).collect();
    final_roots.extend(new_roots);
    forest.nodes[root].children = final_roots;

    // Step 6: sort every set of siblings by sent date, then print.
    sort_tree(&mut forest, root, messages);
    print_forest(&forest, root, messages)
}

/// Sorts every set of siblings under `top` by sent date (ties: sequence order); a dummy sorts as
/// its first child once its children are sorted. Children are sorted before their parents.
fn sort_tree(forest: &mut Forest, top: usize, messages: &[ThreadMessage]) {
    let mut keys: Vec<Key> = vec![(i64::MAX, usize::MAX); forest.nodes.len()];
    let mut order = forest.preorder(top);
    order.insert(0, top);
    for &n in order.iter().rev() {
        let mut children = std::mem::take(&mut forest.nodes[n].children);
        children.sort_by_key(|&c| keys[c]);
        keys[n] = match forest.nodes[n].msg {
            Some(i) => (messages[i].date, i),
            None => children.first().map(|&c| keys[c]).unwrap_or((i64::MAX, usize::MAX)),
        };
        forest.nodes[n].children = children;
    }
}

/// Step 6 output: `(` thread `)` per root; a message is followed by its only child after a
/// space, or by each of its several children in parentheses; a dummy prints nothing itself.
fn print_forest(forest: &Forest, root: usize, messages: &[ThreadMessage]) -> String {
    enum Item {
        Node(usize),
        Text(&'static str),
    }
    let mut out = String::new();
    let mut stack: Vec<Item> = Vec::new();
    for &r in forest.nodes[root].children.iter().rev() {
        stack.push(Item::Text(")"));
        stack.push(Item::Node(r));
        stack.push(Item::Text("("));
    }
    while let Some(item) = stack.pop() {
        let n = match item {
            Item::Text(t) => {
                out.push_str(t);
                continue;
            }
            Item::Node(n) => n,
        };
        let node = &forest.nodes[n];
        if let Some(i) = node.msg {
            out.push_str(&messages[i].id.to_string());
        }
        match node.children.as_slice() {
            [] => {}
            [only] => {
                if node.msg.is_some() {
                    out.push(' ');
                }
                stack.push(Item::Node(*only));
            }
            several => {
                if node.msg.is_some() {
                    out.push(' ');
                }
                for &c in several.iter().rev() {
                    stack.push(Item::Text(")"));
                    stack.push(Item::Node(c));
                    stack.push(Item::Text("("));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stand-in base subject for these unit tests: strips `re:` prefixes, upper-cases.
    fn simple_base(s: &str) -> String {
        let mut s = s.trim();
        while s.len() >= 3 && s[..3].eq_ignore_ascii_case("re:") {
            s = s[3..].trim_start();
        }
        s.to_ascii_uppercase()
    }

    fn msg(id: u32, mid: Option<&str>, refs: Option<&str>, irt: Option<&str>, subj: &str, date: i64) -> ThreadMessage {
        ThreadMessage {
            id,
            message_id: mid.map(str::to_string),
            references: refs.map(str::to_string),
            in_reply_to: irt.map(str::to_string),
            subject: Some(subj.to_string()),
            date,
        }
    }

    #[test]
    fn msg_id_parsing() {
        assert_eq!(parse_msg_ids("<a@b> <c@d>"), ["a@b", "c@d"]);
        assert_eq!(parse_msg_ids("<\"a b\\\"c\"@x.y>"), ["a b\"c@x.y"]);
        assert_eq!(parse_msg_ids("<\"01KF\"@x.y>"), parse_msg_ids("<01KF@x.y>"));
        assert_eq!(parse_msg_ids("(c <no@id>) <a@\r\n b><c@d>"), ["a@b", "c@d"]);
        assert_eq!(
            parse_msg_ids("\"x <no@id>\" <noat> <@b> <a@> <a@b"),
            Vec::<String>::new()
        );
        assert_eq!(parse_msg_ids("junk <x <a@b>"), ["a@b"]);
        assert_eq!(parse_msg_ids("<A@B> <a@b>"), ["A@B", "a@b"]);
    }

    #[test]
    fn reply_detection() {
        assert!(is_reply_or_forward("Re: foo"));
        assert!(is_reply_or_forward("[list] RE[2]: foo"));
        assert!(is_reply_or_forward("foo (fwd)"));
        assert!(is_reply_or_forward("[Fwd: foo]"));
        assert!(!is_reply_or_forward("[list] foo"));
        assert!(!is_reply_or_forward("foo"));
        assert!(!is_reply_or_forward("Ad: foo"));
        assert!(!is_reply_or_forward("[xyz]"));
    }

    #[test]
    fn in_reply_to_fallback_and_loops() {
        let ms = [
            msg(1, Some("<a@x>"), Some("<c@x>"), None, "s1", 1),
            msg(2, Some("<b@x>"), Some("junk"), Some("x <a@x> <zz@x>"), "s2", 2),
            msg(3, Some("<c@x>"), Some("<b@x>"), None, "s3", 3),
            // Self reference only: no parent.
            msg(4, Some("<d@x>"), Some("<d@x>"), None, "s4", 4),
        ];
        // 1 is a child of dummy c; 2 (In-Reply-To fallback) a child of 1; 3 fills c, and its
        // parent b would be a loop; 4 references itself.
        assert_eq!(references(&ms, simple_base), "(3 1 2)(4)");
    }

    #[test]
    fn subject_merge() {
        let ms = [
            msg(1, Some("<a@x>"), None, None, "Re: hello", 10),
            msg(2, Some("<b@x>"), None, None, "hello", 20),
            msg(3, Some("<c@x>"), None, None, "other", 5),
            msg(4, Some("<d@x>"), None, None, "other", 6),
            msg(5, None, Some("<m@x>"), None, "Re: third", 1),
            msg(6, None, Some("<m@x>"), None, "Re: third", 2),
            msg(7, None, None, None, "third", 3),
        ];
        // hello: 2 is not a reply, so the reply 1 goes under it. other: neither is a reply,
        // a dummy holds both. third: dummy m (5, 6) takes 7 as a sibling.
        assert_eq!(references(&ms, simple_base), "((5)(6)(7))((3)(4))(2 1)");
    }

    #[test]
    fn pruning() {
        let ms = [
            // Dummies p -> q -> 1 and p -> q -> 2: nested dummies vanish, p stays as a root
            // dummy with two children.
            msg(1, Some("<a@x>"), Some("<p@x> <q@x>"), None, "s1", 1),
            msg(2, Some("<b@x>"), Some("<p@x> <q@x>"), None, "s2", 2),
            // Dummy r with a single child 3 at the root: 3 is promoted to the root.
            msg(3, Some("<c@x>"), Some("<r@x>"), None, "s3", 0),
            // Dummy s -> dummy t -> 4, 5 under t: 4 and 5 reach s, s is a root dummy.
            msg(4, None, Some("<s@x> <t@x>"), None, "s4", 5),
            msg(5, None, Some("<t@x>"), None, "s5", 4),
        ];
        assert_eq!(references(&ms, simple_base), "(3)((1)(2))((5)(4))");
    }

    #[test]
    fn ordered_subject_format() {
        let ms = [
            msg(1, None, None, None, "b", 5),
            msg(2, None, None, None, "a", 4),
            msg(3, None, None, None, "Re: b", 3),
            msg(4, None, None, None, "b", 3),
            msg(5, None, None, None, "re: a", 1),
        ];
        assert_eq!(ordered_subject(&ms, simple_base), "(5 2)(3 (4)(1))");
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let n = 10_000u32;
        let ms: Vec<ThreadMessage> = (1..=n)
            .map(|i| {
                let refs = (i > 1).then(|| format!("<{}@x>", i - 1));
                msg(i, Some(&format!("<{i}@x>")), refs.as_deref(), None, "s", i as i64)
            })
            .collect();
        let out = references(&ms, simple_base);
        assert!(out.starts_with("(1 2 3 "));
        assert!(out.ends_with(&format!(" {n})")));
    }
}
