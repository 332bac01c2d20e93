//! Lexical analysis of a script (RFC 5228 §8.1): white space and comments are skipped,
//! identifiers and tags are folded to lower case (the grammar is case-insensitive, §8.2),
//! quoted strings lose their escapes (§2.4.2) and `text:` literals their dot-stuffing.

use crate::ScriptError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident(String),
    /// A tagged argument, without its colon.
    Tag(String),
    Number(u64),
    Str(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Semi,
    LBrace,
    RBrace,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: usize,
}

/// Splits a whole script into tokens, the last one being `Tok::End`.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, ScriptError> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.token()?;
        let end = token.tok == Tok::End;
        tokens.push(token);
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn token(&mut self) -> Result<Token, ScriptError> {
        self.skip_blanks()?;
        let line = self.line;
        let Some(c) = self.bump() else {
            return Ok(Token { tok: Tok::End, line });
        };
        let tok = match c {
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            ';' => Tok::Semi,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '"' => Tok::Str(self.quoted(line)?),
            ':' => {
                let name = self.identifier();
                if name.is_empty() {
                    return Err(ScriptError::new(line, "« : » doit être suivi du nom d'un argument"));
                }
                Tok::Tag(name)
            }
            '0'..='9' => Tok::Number(self.number(c, line)?),
            c if c.is_ascii_alphabetic() || c == '_' => {
                self.pos -= 1;
                let name = self.identifier();
                if name == "text" && self.peek() == Some(':') {
                    self.pos += 1;
                    Tok::Str(self.multi_line(line)?)
                } else {
                    Tok::Ident(name)
                }
            }
            other => return Err(ScriptError::new(line, format!("caractère inattendu « {other} »"))),
        };
        Ok(Token { tok, line })
    }

    /// White space, `#` comments to the end of the line and `/* */` comments (§2.3).
    fn skip_blanks(&mut self) -> Result<(), ScriptError> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r' | '\n') => {
                    self.bump();
                }
                Some('#') => while self.bump().is_some_and(|c| c != '\n') {},
                Some('/') if self.chars.get(self.pos + 1) == Some(&'*') => {
                    let line = self.line;
                    self.pos += 2;
                    loop {
                        match self.bump() {
                            None => return Err(ScriptError::new(line, "commentaire « /* » non terminé")),
                            Some('*') if self.peek() == Some('/') => {
                                self.pos += 1;
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// `(ALPHA / "_") *(ALPHA / DIGIT / "_")`, lower-cased; empty if none starts here.
    fn identifier(&mut self) -> String {
        let start = self.pos;
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                self.pos += 1;
            }
        }
        self.chars[start..self.pos]
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }

    /// Digits with an optional K, M or G quantifier (§2.4.1); overflow is an error.
    fn number(&mut self, first: char, line: usize) -> Result<u64, ScriptError> {
        let too_big = || ScriptError::new(line, "nombre trop grand");
        let mut value = u64::from(first as u8 - b'0');
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            self.pos += 1;
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or_else(too_big)?;
        }
        let shift = match self.peek().map(|c| c.to_ascii_uppercase()) {
            Some('K') => 10,
            Some('M') => 20,
            Some('G') => 30,
            _ => return Ok(value),
        };
        self.pos += 1;
        value.checked_mul(1 << shift).ok_or_else(too_big)
    }

    /// The rest of a quoted string: `\` makes the next character literal; an undefined escape
    /// such as `\a` is just `a` (§2.4.2). Line breaks are kept as written.
    fn quoted(&mut self, line: usize) -> Result<String, ScriptError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(ScriptError::new(line, "chaîne non terminée")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    None => return Err(ScriptError::new(line, "chaîne non terminée")),
                    Some(c) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// The rest of a `text:` literal (§2.4.2): after blanks and an optional comment, lines up
    /// to one holding a lone `.`; a leading `..` stands for `.`. Lines end with CRLF in the
    /// value, as in the RFC's grammar, whether the script used CRLF or LF.
    fn multi_line(&mut self, line: usize) -> Result<String, ScriptError> {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        match self.peek() {
            Some('#') => while self.bump().is_some_and(|c| c != '\n') {},
            Some('\r') if self.chars.get(self.pos + 1) == Some(&'\n') => {
                self.pos += 1;
                self.bump();
            }
            Some('\n') => {
                self.bump();
            }
            _ => return Err(ScriptError::new(line, "« text: » doit être suivi d'une fin de ligne")),
        }
        let mut out = String::new();
        loop {
            let start = self.pos;
            let mut ended = false;
            while let Some(c) = self.bump() {
                if c == '\n' {
                    ended = true;
                    break;
                }
            }
            let mut end = if ended { self.pos - 1 } else { self.pos };
            if end > start && self.chars[end - 1] == '\r' {
                end -= 1;
            }
            let content = &self.chars[start..end];
            if content == ['.'] {
                return Ok(out);
            }
            if !ended {
                return Err(ScriptError::new(
                    line,
                    "texte « text: » non terminé par une ligne « . »",
                ));
            }
            let content = if content.starts_with(&['.', '.']) {
                &content[1..]
            } else {
                content
            };
            out.extend(content);
            out.push_str("\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn comments_numbers_tags_and_case() {
        let t = toks("# hello\nIF /* a\n comment */ Size :OVER 10K;");
        assert_eq!(
            t,
            vec![
                Tok::Ident("if".into()),
                Tok::Ident("size".into()),
                Tok::Tag("over".into()),
                Tok::Number(10 * 1024),
                Tok::Semi,
                Tok::End
            ]
        );
        assert_eq!(toks("1M 2g")[..2], [Tok::Number(1 << 20), Tok::Number(2 << 30)]);
    }

    #[test]
    fn quoted_escapes() {
        assert_eq!(toks(r#""a\"b\\c\d""#)[0], Tok::Str("a\"b\\cd".into()));
    }

    #[test]
    fn text_literal_with_dot_stuffing() {
        let t = toks("text: # comment\r\nline one\r\n..dotted\r\n.x\r\n.\r\n;");
        assert_eq!(t[0], Tok::Str("line one\r\n.dotted\r\n.x\r\n".into()));
        assert_eq!(t[1], Tok::Semi);
        assert_eq!(toks("text:\n.\n")[0], Tok::Str(String::new()));
    }

    #[test]
    fn line_numbers() {
        let tokens = tokenize("keep;\n\n\"a\nb\" stop;").unwrap();
        assert_eq!(
            tokens.iter().map(|t| t.line).collect::<Vec<_>>(),
            vec![1, 1, 3, 4, 4, 4]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(tokenize("keep; \"abc").unwrap_err().message, "chaîne non terminée");
        assert_eq!(tokenize("\n/* abc").unwrap_err().line, 2);
        assert!(tokenize("text: x\n.\n").is_err());
        assert!(tokenize("text:\nabc\n").is_err());
        assert_eq!(tokenize("99999999999G").unwrap_err().message, "nombre trop grand");
        assert_eq!(tokenize("keep; @").unwrap_err().message, "caractère inattendu « @ »");
    }
}
