//! Scraping `/metrics`: a strict parser of the Prometheus text format and sums of samples.

use std::collections::BTreeMap;

/// One sample line of the text format.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A strict parser of the Prometheus text format 0.0.4: every line is a `# HELP`, a `# TYPE`
/// (before its samples) or a sample `name{label="value",...} number`; anything else fails.
pub fn parse(text: &str) -> Vec<Sample> {
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(is_name(name), "bad HELP line: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(is_name(name), "bad TYPE line: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad TYPE line: {line}"
            );
            typed.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line: {line}");
        let (name_labels, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in: {line}")),
        };
        let (name, labels) = match name_labels.split_once('{') {
            None => (name_labels.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (k, after) = rest.split_once("=\"").expect("label=\"value\"");
                    assert!(is_name(k), "bad label name in: {line}");
                    // values escape \ " and newline
                    let mut v = String::new();
                    let mut chars = after.char_indices();
                    let end = loop {
                        let (i, c) = chars.next().expect("label value is closed");
                        match c {
                            '\\' => {
                                let (_, e) = chars.next().unwrap();
                                v.push(if e == 'n' { '\n' } else { e });
                            }
                            '"' => break i,
                            c => v.push(c),
                        }
                    };
                    labels.insert(k.to_owned(), v);
                    rest = after[end + 1..]
                        .strip_prefix(',')
                        .unwrap_or(&after[end + 1..]);
                }
                (name.to_owned(), labels)
            }
        };
        assert!(is_name(&name), "bad metric name in: {line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|base| typed.get(*base).is_some_and(|t| t == "histogram"))
            .unwrap_or(&name);
        assert!(
            typed.contains_key(family),
            "sample before its TYPE line: {line}"
        );
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

/// Sum of the samples named `name` whose labels include `want`.
pub fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// `/metrics` of the app at `base`, checked to be the Prometheus text format.
pub async fn scrape_text(base: &str) -> String {
    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    res.text().await.unwrap()
}

/// `/metrics` of the app at `base`, parsed.
pub async fn scrape(base: &str) -> Vec<Sample> {
    parse(&scrape_text(base).await)
}
