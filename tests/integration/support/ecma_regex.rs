//! JSON Schema `pattern`s as JavaScript validators (ajv, Redocly) compile them: ECMA-262
//! regular expressions in Unicode mode (`new RegExp(p, "u")`). [`unicode_mode_error`] is a
//! checker of the Unicode-mode grammar written from ECMA-262 §22.2.1 (no JavaScript needed):
//! identity escapes only for syntax characters and `/` (and `-` in a class), known escapes
//! complete, no lone braces or brackets, no class escape in a range, nothing to repeat.
//! [`node_compile`] asks a real JavaScript engine when `node` is installed.

/// What a quantifier may follow.
#[derive(Clone, Copy, PartialEq)]
enum Last {
    /// Start, `(`, `|` or an assertion: nothing to repeat.
    Nothing,
    Atom,
    /// A quantifier: only a lazy `?` may follow.
    Quantifier,
}

/// Why `pattern` fails to compile in Unicode mode, or `None` when it compiles.
pub fn unicode_mode_error(pattern: &str) -> Option<String> {
    let p: Vec<char> = pattern.chars().collect();
    let (groups, names) = match capture_groups(&p) {
        Ok(g) => g,
        Err(e) => return Some(e),
    };
    let mut i = 0;
    let mut last = Last::Nothing;
    // per open group: whether it is a lookaround (a quantifier may not follow its end)
    let mut open: Vec<bool> = Vec::new();
    let fail = |at: usize, why: &str| Some(format!("{why} at offset {at}"));
    while i < p.len() {
        match p[i] {
            '\\' => match escape(&p, i, false, groups, &names) {
                Ok((next, kind)) => {
                    last = if kind == Escape::Assertion {
                        Last::Nothing
                    } else {
                        Last::Atom
                    };
                    i = next;
                }
                Err(e) => return fail(i, &e),
            },
            '[' => match class(&p, i) {
                Ok(next) => {
                    last = Last::Atom;
                    i = next;
                }
                Err(e) => return Some(e),
            },
            '(' => {
                let (next, lookaround) = match group_open(&p, i) {
                    Ok(g) => g,
                    Err(e) => return fail(i, &e),
                };
                open.push(lookaround);
                last = Last::Nothing;
                i = next;
            }
            ')' => {
                let Some(lookaround) = open.pop() else {
                    return fail(i, "unmatched )");
                };
                last = if lookaround {
                    Last::Nothing
                } else {
                    Last::Atom
                };
                i += 1;
            }
            '|' | '^' | '$' => {
                last = Last::Nothing;
                i += 1;
            }
            c @ ('*' | '+' | '?' | '{') => {
                let next = if c == '{' {
                    match braces(&p, i) {
                        Some(n) => n,
                        None => return fail(i, "lone { (escape it as \\{ in Unicode mode)"),
                    }
                } else {
                    i + 1
                };
                last = match (c, last) {
                    (_, Last::Atom) => Last::Quantifier,
                    ('?', Last::Quantifier) => Last::Nothing,
                    _ => return fail(i, "nothing to repeat"),
                };
                i = next;
            }
            '}' => return fail(i, "lone } (escape it as \\} in Unicode mode)"),
            ']' => return fail(i, "lone ] (escape it as \\] in Unicode mode)"),
            _ => {
                last = Last::Atom;
                i += 1;
            }
        }
    }
    if !open.is_empty() {
        return Some("unterminated group".into());
    }
    None
}

/// What an escape stands for.
#[derive(Debug, PartialEq)]
enum Escape {
    /// One character (its code point): may bound a class range.
    Char(u32),
    /// A set: `\d`, `\p{..}`...; may not bound a class range.
    Set,
    /// `\b`, `\B` outside a class.
    Assertion,
    /// A backreference.
    Reference,
}

/// Parses the escape at `p[i] == '\\'`: the index after it and what it is.
fn escape(
    p: &[char],
    i: usize,
    in_class: bool,
    groups: usize,
    names: &[String],
) -> Result<(usize, Escape), String> {
    let Some(&c) = p.get(i + 1) else {
        return Err("\\ at the end of the pattern".into());
    };
    let hex = |from: usize, n: usize| -> Option<u32> {
        let s: String = p.get(from..from + n)?.iter().collect();
        (s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(&s, 16).ok())
            .flatten()
    };
    Ok(match c {
        '^' | '$' | '\\' | '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|'
        | '/' => (i + 2, Escape::Char(c as u32)),
        '-' if in_class => (i + 2, Escape::Char('-' as u32)),
        'd' | 'D' | 'w' | 'W' | 's' | 'S' => (i + 2, Escape::Set),
        'b' if in_class => (i + 2, Escape::Char(8)),
        'b' | 'B' if !in_class => (i + 2, Escape::Assertion),
        'f' => (i + 2, Escape::Char(0x0c)),
        'n' => (i + 2, Escape::Char(0x0a)),
        'r' => (i + 2, Escape::Char(0x0d)),
        't' => (i + 2, Escape::Char(0x09)),
        'v' => (i + 2, Escape::Char(0x0b)),
        '0' => {
            if p.get(i + 2).is_some_and(char::is_ascii_digit) {
                return Err("\\0 followed by a digit (octal escapes are invalid)".into());
            }
            (i + 2, Escape::Char(0))
        }
        '1'..='9' => {
            if in_class {
                return Err(format!("\\{c} in a class (octal escapes are invalid)"));
            }
            let mut end = i + 1;
            while p.get(end).is_some_and(char::is_ascii_digit) {
                end += 1;
            }
            let n: usize = p[i + 1..end]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(0);
            if n > groups {
                return Err(format!("\\{n} refers to a group that does not exist"));
            }
            (end, Escape::Reference)
        }
        'c' => match p.get(i + 2) {
            Some(l) if l.is_ascii_alphabetic() => (i + 3, Escape::Char(*l as u32 % 32)),
            _ => return Err("\\c not followed by a letter".into()),
        },
        'x' => match hex(i + 2, 2) {
            Some(v) => (i + 4, Escape::Char(v)),
            None => return Err("\\x not followed by two hex digits".into()),
        },
        'u' => {
            if p.get(i + 2) == Some(&'{') {
                let close = p[i + 3..]
                    .iter()
                    .position(|c| *c == '}')
                    .map(|k| i + 3 + k)
                    .ok_or("\\u{ without }")?;
                let digits: String = p[i + 3..close].iter().collect();
                match u32::from_str_radix(&digits, 16) {
                    Ok(v) if !digits.is_empty() && v <= 0x10ffff && !digits.starts_with('+') => {
                        (close + 1, Escape::Char(v))
                    }
                    _ => return Err(format!("\\u{{{digits}}} is not a code point")),
                }
            } else {
                match hex(i + 2, 4) {
                    // a surrogate pair written as two escapes is one code point
                    Some(lead @ 0xd800..=0xdbff)
                        if p.get(i + 6) == Some(&'\\') && p.get(i + 7) == Some(&'u') =>
                    {
                        match hex(i + 8, 4) {
                            Some(trail @ 0xdc00..=0xdfff) => (
                                i + 12,
                                Escape::Char(0x10000 + ((lead - 0xd800) << 10) + (trail - 0xdc00)),
                            ),
                            _ => (i + 6, Escape::Char(lead)),
                        }
                    }
                    Some(v) => (i + 6, Escape::Char(v)),
                    None => return Err("\\u not followed by four hex digits or {..}".into()),
                }
            }
        }
        'p' | 'P' => {
            if p.get(i + 2) != Some(&'{') {
                return Err(format!("\\{c} not followed by {{property}}"));
            }
            let close = p[i + 3..]
                .iter()
                .position(|c| *c == '}')
                .map(|k| i + 3 + k)
                .ok_or(format!("\\{c}{{ without }}"))?;
            let name: String = p[i + 3..close].iter().collect();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_=".contains(c))
            {
                return Err(format!("\\{c}{{{name}}} is not a property"));
            }
            (close + 1, Escape::Set)
        }
        'k' if !in_class => {
            let name = group_name(p, i + 2).ok_or("\\k not followed by <name>")?;
            if !names.contains(&name.0) {
                return Err(format!("\\k<{}> names no group", name.0));
            }
            (name.1, Escape::Reference)
        }
        other => {
            return Err(format!(
                "\\{other} is an invalid identity escape in Unicode mode"
            ));
        }
    })
}

/// `<name>` at `p[at]`: the name and the index after `>`.
fn group_name(p: &[char], at: usize) -> Option<(String, usize)> {
    if p.get(at) != Some(&'<') {
        return None;
    }
    let close = p[at + 1..].iter().position(|c| *c == '>')? + at + 1;
    let name: String = p[at + 1..close].iter().collect();
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first.is_alphabetic() || "$_".contains(first))
        && chars.all(|c| c.is_alphanumeric() || "$_".contains(c)))
    .then_some((name, close + 1))
}

/// The group opening at `p[i] == '('`: the index after its prefix, and whether it is a
/// lookaround.
fn group_open(p: &[char], i: usize) -> Result<(usize, bool), String> {
    if p.get(i + 1) != Some(&'?') {
        return Ok((i + 1, false));
    }
    match (p.get(i + 2), p.get(i + 3)) {
        (Some(':'), _) => Ok((i + 3, false)),
        (Some('=' | '!'), _) => Ok((i + 3, true)),
        (Some('<'), Some('=' | '!')) => Ok((i + 4, true)),
        (Some('<'), _) => group_name(p, i + 2)
            .map(|(_, next)| (next, false))
            .ok_or_else(|| "invalid group name".into()),
        _ => Err("invalid group (?".into()),
    }
}

/// `{n}`, `{n,}` or `{n,m}` (n <= m) at `p[i] == '{'`: the index after it.
fn braces(p: &[char], i: usize) -> Option<usize> {
    let close = p[i + 1..].iter().position(|c| *c == '}')? + i + 1;
    let body: String = p[i + 1..close].iter().collect();
    let (min, max) = body.split_once(',').unwrap_or((&body, &body));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(min) || !(max.is_empty() || digits(max)) {
        return None;
    }
    if !max.is_empty() && min.parse::<u64>().ok()? > max.parse::<u64>().ok()? {
        return None;
    }
    Some(close + 1)
}

/// The class opening at `p[i] == '['`: the index after its `]`, or why not (with the offset).
fn class(p: &[char], i: usize) -> Result<usize, String> {
    let mut j = i + 1;
    if p.get(j) == Some(&'^') {
        j += 1;
    }
    let atom = |j: usize| -> Result<(usize, Escape), String> {
        match p.get(j) {
            None => Err(format!("unterminated class at offset {i}")),
            Some('\\') => escape(p, j, true, 0, &[]).map_err(|e| format!("{e} at offset {j}")),
            Some(c) => Ok((j + 1, Escape::Char(*c as u32))),
        }
    };
    loop {
        match p.get(j) {
            None => return Err(format!("unterminated class at offset {i}")),
            Some(']') => return Ok(j + 1),
            _ => {}
        }
        let (next, from) = atom(j)?;
        if p.get(next) == Some(&'-') && p.get(next + 1).is_some_and(|c| *c != ']') {
            let (after, to) = atom(next + 1)?;
            match (from, to) {
                (Escape::Char(a), Escape::Char(b)) if a > b => {
                    return Err(format!("class range out of order at offset {j}"));
                }
                (Escape::Char(_), Escape::Char(_)) => {}
                _ => {
                    return Err(format!(
                        "class escape (\\d, \\s, \\p..) as a range bound at offset {j}"
                    ));
                }
            }
            j = after;
        } else {
            j = next;
        }
    }
}

/// The number of capturing groups and their names (backreferences are checked against them).
fn capture_groups(p: &[char]) -> Result<(usize, Vec<String>), String> {
    let (mut i, mut count, mut names) = (0, 0, Vec::new());
    while i < p.len() {
        match p[i] {
            '\\' => i += 2,
            '[' => i = class(p, i)?,
            '(' => {
                if p.get(i + 1) != Some(&'?') {
                    count += 1;
                } else if p.get(i + 2) == Some(&'<')
                    && let Some((name, _)) = group_name(p, i + 2)
                {
                    count += 1;
                    names.push(name);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok((count, names))
}

/// Compiles each pattern with `new RegExp(p, "u")` in node: per pattern `None` (compiles) or
/// the engine's error. `None` overall when node is not installed.
pub fn node_compile(patterns: &[String]) -> Option<Vec<Option<String>>> {
    node_eval(
        "const ps = JSON.parse(require('fs').readFileSync(0, 'utf8'));
         console.log(JSON.stringify(ps.map(p => {
             try { new RegExp(p, 'u'); return null; } catch (e) { return String(e.message); }
         })));",
        &serde_json::json!(patterns),
    )
}

/// Whether `pattern` (Unicode mode) matches each of `inputs`, in node; `None` without node.
pub fn node_matches(pattern: &str, inputs: &[String]) -> Option<Vec<bool>> {
    node_eval(
        "const [p, xs] = JSON.parse(require('fs').readFileSync(0, 'utf8'));
         const re = new RegExp(p, 'u');
         console.log(JSON.stringify(xs.map(x => re.test(x))));",
        &serde_json::json!([pattern, inputs]),
    )
}

fn node_eval<T: serde::de::DeserializeOwned>(script: &str, input: &serde_json::Value) -> Option<T> {
    use std::io::Write;
    let mut child = std::process::Command::new("node")
        .args(["-e", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "node failed: {out:?}");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}
