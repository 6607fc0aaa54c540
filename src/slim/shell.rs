//! The command words of a shell-form command (`/bin/sh -c "…"`): a small
//! tokenizer that knows enough of the POSIX shell grammar to tell which
//! words a shell would run as commands, so that `slim` keeps them.
//!
//! Understood: quoting ('…', "…", backslash), comments, the operators
//! `|`, `||`, `&&`, `&`, `;`, newlines, subshells and groups (`( … )`,
//! `{ …; }`), `$( … )` and backquotes (their insides are scripts too),
//! redirections (their targets are not commands), assignments before a
//! command (`LANG=C sort`), the reserved words (`if`, `then`, `while`,
//! `do`, `for NAME in WORDS`, `!` …), and the prefix commands whose next
//! word is a command (`exec`, `command`, `nohup`, `env`, `time`, `xargs`).
//!
//! Limits (documented, not guessed at): `case` patterns, here-documents,
//! aliases, functions defined in the script (their names are not programs)
//! and commands built from expansions (`$CMD args`, `eval`) are not
//! followed; a word with an expansion in command position is skipped.
//! Every word that is an absolute path (or a `file://` URL of one) is
//! reported too, whatever its position, so that `cat /app/x` keeps /app/x.

/// What a script runs and names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Words {
    /// Words in command position, in order, without duplicates.
    pub commands: Vec<String>,
    /// Every word (quotes removed) that is an absolute path.
    pub paths: Vec<String>,
}

/// The shell's reserved words: never programs.
const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "case", "esac", "in", "{",
    "}", "!", "function", "select",
];

/// Commands after which the next word is a command too.
const PREFIXES: &[&str] = &["exec", "command", "nohup", "env", "time", "xargs", "nice"];

/// Deepest nesting of `$( … )` followed, so hostile input stays bounded.
const MAX_DEPTH: usize = 16;

/// The command words and absolute paths of `script`.
pub fn words(script: &str) -> Words {
    let mut w = Words::default();
    scan(script, &mut w, 0);
    w
}

/// One token: a word (quotes removed, with whether it held an unquoted
/// expansion) or an operator.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word {
        text: String,
        expands: bool,
    },
    /// `|`, `||`, `&&`, `&`, `;`, `;;`, newline, `(`, `)`.
    Separator,
    /// `<`, `>`, `>>`, `<&`, `>&`, `<>`, `>|`, `<<`, `<<-`.
    Redirect,
}

fn scan(script: &str, out: &mut Words, depth: usize) {
    let mut subs = Vec::new();
    let tokens = tokenize(script, &mut subs);
    let mut at_command = true;
    let mut after_redirect = false;
    let mut in_for = 0u8;
    for t in tokens {
        match t {
            Token::Separator => {
                at_command = true;
                after_redirect = false;
                in_for = 0;
            }
            Token::Redirect => after_redirect = true,
            Token::Word { text, expands } => {
                let path = text.strip_prefix("file://").unwrap_or(&text);
                if path.starts_with('/') && !expands {
                    push(&mut out.paths, path);
                }
                if after_redirect {
                    after_redirect = false;
                    continue;
                }
                if in_for > 0 {
                    // `for NAME in WORDS`: none of them is a command.
                    in_for = if text == "do" { 0 } else { in_for };
                    if in_for == 0 {
                        at_command = true;
                    }
                    continue;
                }
                if !at_command {
                    continue;
                }
                if text == "for" {
                    in_for = 1;
                    continue;
                }
                // Options of a prefix command (`env -i`) are not commands either.
                let skipped = RESERVED.contains(&text.as_str())
                    || is_assignment(&text)
                    || text.is_empty()
                    || text.starts_with('-');
                if skipped {
                    continue;
                }
                if !expands {
                    push(&mut out.commands, &text);
                }
                at_command = PREFIXES.contains(&text.as_str());
            }
        }
    }
    if depth < MAX_DEPTH {
        for s in subs {
            scan(&s, out, depth + 1);
        }
    }
}

fn push(list: &mut Vec<String>, s: &str) {
    if !list.iter().any(|x| x == s) {
        list.push(s.to_string());
    }
}

/// `NAME=value` before a command.
fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Splits `s` into tokens; the insides of `$( … )` and backquotes go to `subs`.
fn tokenize(s: &str, subs: &mut Vec<String>) -> Vec<Token> {
    let mut l = Lexer {
        chars: s.chars().collect(),
        i: 0,
        tokens: Vec::new(),
        word: String::new(),
        in_word: false,
        expands: false,
    };
    while l.i < l.chars.len() {
        let c = l.chars[l.i];
        match c {
            ' ' | '\t' => l.end_word(),
            '#' if !l.in_word => {
                while l.i < l.chars.len() && l.chars[l.i] != '\n' {
                    l.i += 1;
                }
                continue;
            }
            '\n' | ';' | '|' | '&' | '(' | ')' => {
                l.end_word();
                l.tokens.push(Token::Separator);
            }
            '<' | '>' => l.redirect(),
            '\'' => l.single_quoted(),
            '"' => l.double_quoted(),
            '\\' => {
                l.in_word = true;
                if l.i + 1 < l.chars.len() && l.chars[l.i + 1] != '\n' {
                    l.word.push(l.chars[l.i + 1]);
                }
                l.i += 1;
            }
            '`' => {
                l.in_word = true;
                l.expands = true;
                let start = l.i + 1;
                l.i += 1;
                while l.i < l.chars.len() && l.chars[l.i] != '`' {
                    l.i += 1;
                }
                subs.push(l.chars[start..l.i.min(l.chars.len())].iter().collect());
            }
            '$' if l.chars.get(l.i + 1) == Some(&'(') => {
                l.in_word = true;
                l.expands = true;
                let (inner, next) = balanced(&l.chars, l.i + 2);
                subs.push(inner);
                l.i = next;
                continue;
            }
            _ => {
                l.in_word = true;
                l.expands |= c == '$';
                l.word.push(c);
            }
        }
        l.i += 1;
    }
    l.end_word();
    l.tokens
}

/// [`tokenize`]'s state: the text, where it is, the tokens so far and the
/// word being read.
struct Lexer {
    chars: Vec<char>,
    i: usize,
    tokens: Vec<Token>,
    word: String,
    in_word: bool,
    /// The word holds an expansion (`$`, backquotes).
    expands: bool,
}

impl Lexer {
    fn end_word(&mut self) {
        if self.in_word {
            self.tokens.push(Token::Word {
                text: std::mem::take(&mut self.word),
                expands: self.expands,
            });
        }
        self.in_word = false;
        self.expands = false;
    }

    /// A redirection operator at `i` (`>`, `2>&1`, `<<-`...).
    fn redirect(&mut self) {
        // A file-descriptor number before it (`2>`) is part of the operator.
        if self.in_word && self.word.chars().all(|d| d.is_ascii_digit()) {
            self.word.clear();
            self.in_word = false;
        }
        self.end_word();
        while self.i + 1 < self.chars.len()
            && matches!(self.chars[self.i + 1], '<' | '>' | '&' | '|' | '-')
        {
            self.i += 1;
        }
        self.tokens.push(Token::Redirect);
    }

    /// `'…'` from the quote at `i` to the closing one.
    fn single_quoted(&mut self) {
        self.in_word = true;
        self.i += 1;
        while self.i < self.chars.len() && self.chars[self.i] != '\'' {
            self.word.push(self.chars[self.i]);
            self.i += 1;
        }
    }

    /// `"…"` from the quote at `i` to the closing one (backslashes escape).
    fn double_quoted(&mut self) {
        self.in_word = true;
        self.i += 1;
        while self.i < self.chars.len() && self.chars[self.i] != '"' {
            if self.chars[self.i] == '\\' && self.i + 1 < self.chars.len() {
                self.i += 1;
            } else if self.chars[self.i] == '$' {
                self.expands = true;
            }
            self.word.push(self.chars[self.i]);
            self.i += 1;
        }
    }
}

/// The text up to the `)` that closes a `$(` whose inside starts at
/// `start`, and the index after it (quotes inside are skipped over).
fn balanced(chars: &[char], start: usize) -> (String, usize) {
    let mut depth = 1;
    let mut i = start;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return (chars[start..i].iter().collect(), i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (chars[start..].iter().collect(), chars.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(s: &str) -> Vec<String> {
        words(s).commands
    }

    #[test]
    fn pipelines_lists_and_subshells() {
        assert_eq!(
            commands("curl -s file:///app/x | sha256sum | cut -c1-16"),
            ["curl", "sha256sum", "cut"]
        );
        assert_eq!(
            commands("a && b || c; (d | e) & { f; }\ng"),
            ["a", "b", "c", "d", "e", "f", "g"]
        );
    }

    #[test]
    fn quotes_redirections_assignments_and_reserved_words() {
        assert_eq!(
            commands("LANG=C sort -u <in.txt 2>/dev/null >'out file' | \"tr\" a-z A-Z"),
            ["sort", "tr"]
        );
        assert_eq!(
            commands("if test -f /x; then cat /x; else echo no; fi"),
            ["test", "cat", "echo"]
        );
        assert_eq!(commands("for f in a b c; do gzip $f; done"), ["gzip"]);
        assert_eq!(
            commands("exec env -i nginx -g 'daemon off;'"),
            ["exec", "env", "nginx"]
        );
        assert_eq!(commands("# a comment\nls # another"), ["ls"]);
    }

    #[test]
    fn substitutions_are_scripts_and_expansions_are_skipped() {
        assert_eq!(
            commands("echo $(date +%s | md5sum) `hostname`"),
            ["echo", "date", "md5sum", "hostname"]
        );
        assert_eq!(commands("$CMD arg; \"$X\" y; z"), ["z"]);
    }

    #[test]
    fn absolute_paths_are_named() {
        let w = words("cat /app/x '/etc/my conf' $HOME/y > /tmp/out; curl file:///app/z");
        assert_eq!(w.paths, ["/app/x", "/etc/my conf", "/tmp/out", "/app/z"]);
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let deep = "$(".repeat(10_000) + "ls" + &")".repeat(10_000);
        let w = words(&deep);
        assert!(w.commands.len() <= 1);
    }
}
