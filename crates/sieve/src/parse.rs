//! The generic grammar of RFC 5228 §8.2: a script is commands, each an identifier, arguments
//! (strings, string lists, numbers, tags), then an optional test or test list, and a `;` or a
//! block. What the names mean is `check`'s business; this module only builds the tree and
//! bounds it (nesting depth, list length), so that a hostile script cannot exhaust the stack.

use crate::lex::{Tok, Token};
use crate::{MAX_DEPTH, MAX_LIST_ITEMS, ScriptError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Tag(String),
    Number(u64),
    /// A string (`list` false) or a bracketed string list (`list` true).
    Strings {
        values: Vec<String>,
        list: bool,
    },
}

/// The tests after a command's or a test's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tests {
    None,
    One(Box<Test>),
    List(Vec<Test>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Test {
    pub name: String,
    pub line: usize,
    pub args: Vec<Arg>,
    pub tests: Tests,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    pub name: String,
    pub line: usize,
    pub args: Vec<Arg>,
    pub tests: Tests,
    pub block: Option<Vec<Command>>,
}

/// Builds the command tree of a whole script.
pub(crate) fn parse(tokens: &[Token]) -> Result<Vec<Command>, ScriptError> {
    let mut parser = Parser { tokens, pos: 0 };
    let commands = parser.commands(0)?;
    let token = parser.peek();
    match token.tok {
        Tok::End => Ok(commands),
        _ => Err(ScriptError::new(
            token.line,
            format!("commande attendue, {} trouvé", describe(&token.tok)),
        )),
    }
}

/// How a token is named in error messages.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(name) => format!("« {name} »"),
        Tok::Tag(name) => format!("« :{name} »"),
        Tok::Number(n) => format!("le nombre {n}"),
        Tok::Str(_) => "une chaîne".into(),
        Tok::LBracket => "« [ »".into(),
        Tok::RBracket => "« ] »".into(),
        Tok::LParen => "« ( »".into(),
        Tok::RParen => "« ) »".into(),
        Tok::Comma => "« , »".into(),
        Tok::Semi => "« ; »".into(),
        Tok::LBrace => "« { »".into(),
        Tok::RBrace => "« } »".into(),
        Tok::End => "la fin du script".into(),
    }
}

fn too_deep(line: usize) -> ScriptError {
    ScriptError::new(line, format!("imbrication trop profonde ({MAX_DEPTH} niveaux au plus)"))
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl Parser<'_> {
    /// The current token; the lexer always ends the slice with `Tok::End`.
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        self.pos += 1;
        token
    }

    /// Commands up to a `}` or the end; `depth` is the number of enclosing blocks.
    fn commands(&mut self, depth: usize) -> Result<Vec<Command>, ScriptError> {
        let mut commands = Vec::new();
        while let Tok::Ident(_) = self.peek().tok {
            commands.push(self.command(depth)?);
        }
        Ok(commands)
    }

    fn command(&mut self, depth: usize) -> Result<Command, ScriptError> {
        let token = self.next();
        let (Tok::Ident(name), line) = (token.tok, token.line) else {
            unreachable!("commands() peeked an identifier")
        };
        let (args, tests) = self.arguments(depth + 1)?;
        let end = self.next();
        let block = match end.tok {
            Tok::Semi => None,
            Tok::LBrace => {
                if depth + 1 > MAX_DEPTH {
                    return Err(too_deep(end.line));
                }
                let block = self.commands(depth + 1)?;
                let close = self.next();
                if close.tok != Tok::RBrace {
                    let found = describe(&close.tok);
                    return Err(ScriptError::new(close.line, format!("« }} » attendu, {found} trouvé")));
                }
                Some(block)
            }
            other => {
                let found = describe(&other);
                return Err(ScriptError::new(
                    end.line,
                    format!("« ; » attendu après « {name} », {found} trouvé"),
                ));
            }
        };
        Ok(Command {
            name,
            line,
            args,
            tests,
            block,
        })
    }

    /// Arguments then an optional test or test list; tests found here are at `test_depth`.
    fn arguments(&mut self, test_depth: usize) -> Result<(Vec<Arg>, Tests), ScriptError> {
        let mut args = Vec::new();
        loop {
            match self.peek().tok.clone() {
                Tok::Tag(name) => args.push(Arg::Tag(name)),
                Tok::Number(n) => args.push(Arg::Number(n)),
                Tok::Str(s) => args.push(Arg::Strings {
                    values: vec![s],
                    list: false,
                }),
                Tok::LBracket => {
                    self.pos += 1;
                    args.push(Arg::Strings {
                        values: self.string_list()?,
                        list: true,
                    });
                    continue;
                }
                _ => break,
            }
            self.pos += 1;
        }
        let tests = match self.peek().tok {
            Tok::Ident(_) => Tests::One(Box::new(self.test(test_depth)?)),
            Tok::LParen => {
                self.pos += 1;
                let mut tests = vec![self.test(test_depth)?];
                loop {
                    let token = self.next();
                    match token.tok {
                        Tok::Comma => tests.push(self.test(test_depth)?),
                        Tok::RParen => break,
                        other => {
                            let found = describe(&other);
                            return Err(ScriptError::new(
                                token.line,
                                format!("« , » ou « ) » attendu, {found} trouvé"),
                            ));
                        }
                    }
                }
                Tests::List(tests)
            }
            _ => Tests::None,
        };
        Ok((args, tests))
    }

    fn test(&mut self, depth: usize) -> Result<Test, ScriptError> {
        let token = self.next();
        if depth > MAX_DEPTH {
            return Err(too_deep(token.line));
        }
        let Tok::Ident(name) = token.tok else {
            let found = describe(&token.tok);
            return Err(ScriptError::new(token.line, format!("test attendu, {found} trouvé")));
        };
        let (args, tests) = self.arguments(depth + 1)?;
        Ok(Test {
            name,
            line: token.line,
            args,
            tests,
        })
    }

    /// The rest of `[ string *("," string) ]`, at most `MAX_LIST_ITEMS` strings.
    fn string_list(&mut self) -> Result<Vec<String>, ScriptError> {
        let mut values = Vec::new();
        loop {
            let token = self.next();
            let Tok::Str(s) = token.tok else {
                let found = describe(&token.tok);
                return Err(ScriptError::new(token.line, format!("chaîne attendue, {found} trouvé")));
            };
            if values.len() == MAX_LIST_ITEMS {
                return Err(ScriptError::new(
                    token.line,
                    format!("liste trop longue ({MAX_LIST_ITEMS} chaînes au plus)"),
                ));
            }
            values.push(s);
            let token = self.next();
            match token.tok {
                Tok::Comma => {}
                Tok::RBracket => return Ok(values),
                other => {
                    let found = describe(&other);
                    return Err(ScriptError::new(
                        token.line,
                        format!("« , » ou « ] » attendu, {found} trouvé"),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::tokenize;

    fn tree(text: &str) -> Result<Vec<Command>, ScriptError> {
        parse(&tokenize(text)?)
    }

    #[test]
    fn commands_arguments_and_tests() {
        let t = tree("if anyof (header :contains \"subject\" [\"a\", \"b\"], true) { stop; } keep;").unwrap();
        assert_eq!(t.len(), 2);
        let Tests::One(test) = &t[0].tests else { panic!() };
        assert_eq!(test.name, "anyof");
        let Tests::List(list) = &test.tests else { panic!() };
        assert_eq!(list[0].args[0], Arg::Tag("contains".into()));
        assert_eq!(
            list[0].args[2],
            Arg::Strings {
                values: vec!["a".into(), "b".into()],
                list: true
            }
        );
        assert_eq!(t[0].block.as_ref().unwrap()[0].name, "stop");
        assert_eq!(t[1].block, None);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = tree("keep;\nkeep\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ligne 3 : « ; » attendu après « keep », la fin du script trouvé"
        );
        assert_eq!(
            tree("if true { keep;").unwrap_err().message,
            "« } » attendu, la fin du script trouvé"
        );
        assert!(tree("}").is_err());
        assert!(tree("x [];").is_err());
        assert!(tree("x (true,);").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}keep;{}", "if true {".repeat(n), "}".repeat(n));
        assert!(tree(&nested(16)).is_ok());
        assert_eq!(
            tree(&nested(17)).unwrap_err().message,
            "imbrication trop profonde (16 niveaux au plus)"
        );
        // Deep enough to overflow the stack if the recursion were not cut short.
        assert!(tree(&nested(100_000)).is_err());
        let nots = |n: usize| format!("if {}true {{ keep; }}", "not ".repeat(n));
        assert!(tree(&nots(15)).is_ok());
        assert!(tree(&nots(16)).is_err());
    }

    #[test]
    fn list_length_is_bounded() {
        let list = |n: usize| format!("x [{}];", vec!["\"a\""; n].join(","));
        assert!(tree(&list(256)).is_ok());
        assert_eq!(
            tree(&list(257)).unwrap_err().message,
            "liste trop longue (256 chaînes au plus)"
        );
    }
}
