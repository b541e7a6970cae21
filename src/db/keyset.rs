//! Keyset paging and row counts that cost the same on an empty database and on a year of a
//! large site. A list is read from an index in its display order (or reversed), strictly past
//! the key of a row already shown, never with `OFFSET`; how many rows a table holds is the
//! planner's estimate or a count that stops at [`COUNT_CAP`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

/// Which page of a list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window<K> {
    /// The first rows in display order.
    First,
    /// The rows after this key (the next page).
    After(K),
    /// The rows before this key (the previous page), shown in display order.
    Before(K),
    /// The last rows, shown in display order.
    Last,
}

/// A cursor that is not one this list hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed page cursor")]
pub struct BadCursor;

impl Window<String> {
    /// The window with its cursor read as the list's key type.
    pub fn decode<K: CursorKey>(&self) -> Result<Window<K>, BadCursor> {
        Ok(match self {
            Window::First => Window::First,
            Window::Last => Window::Last,
            Window::After(c) => Window::After(K::decode_cursor(c).ok_or(BadCursor)?),
            Window::Before(c) => Window::Before(K::decode_cursor(c).ok_or(BadCursor)?),
        })
    }
}

/// Which way a read runs relative to the display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Forward,
    Backward,
}

/// One read of a list: up to `limit` rows in direction `dir`, strictly past `from` when given.
#[derive(Debug)]
pub struct Seek<'a, K> {
    pub dir: Dir,
    pub from: Option<&'a K>,
    pub limit: i64,
}

impl<K> Seek<'_, K> {
    /// Whether this read sorts descending, for a list displayed descending or not.
    pub fn descending(&self, display_desc: bool) -> bool {
        display_desc == (self.dir == Dir::Forward)
    }

    /// The row comparison that keeps rows past `from` (`<` when reading descending).
    pub fn op(&self, display_desc: bool) -> &'static str {
        if self.descending(display_desc) {
            "<"
        } else {
            ">"
        }
    }
}

/// A page of a list in display order, and whether there are rows before and after it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_prev: bool,
    pub has_next: bool,
}

/// Reads the page `window` of `size` rows with `fetch`, which answers one [`Seek`] in the order
/// it is asked for (an index scan, forward or backward). One row more than a page is read to
/// know whether there is a further page. A cursor past either end (its rows were deleted)
/// shows the first or the last page.
pub fn read<K, T>(
    window: &Window<K>,
    size: i64,
    mut fetch: impl FnMut(Seek<'_, K>) -> QueryResult<Vec<T>>,
) -> QueryResult<Page<T>> {
    let limit = size + 1;
    let page = size.max(0) as usize;
    let seek = |dir, from| Seek { dir, from, limit };
    Ok(match window {
        Window::First => {
            let mut rows = fetch(seek(Dir::Forward, None))?;
            let has_next = rows.len() > page;
            rows.truncate(page);
            Page {
                rows,
                has_prev: false,
                has_next,
            }
        }
        Window::After(k) => {
            let mut rows = fetch(seek(Dir::Forward, Some(k)))?;
            if rows.is_empty() {
                return read(&Window::Last, size, fetch);
            }
            let has_next = rows.len() > page;
            rows.truncate(page);
            Page {
                rows,
                has_prev: true,
                has_next,
            }
        }
        Window::Before(k) => {
            let mut rows = fetch(seek(Dir::Backward, Some(k)))?;
            if rows.is_empty() {
                return read(&Window::First, size, fetch);
            }
            let has_prev = rows.len() > page;
            rows.truncate(page);
            rows.reverse();
            Page {
                rows,
                has_prev,
                has_next: true,
            }
        }
        Window::Last => {
            let mut rows = fetch(seek(Dir::Backward, None))?;
            let has_prev = rows.len() > page;
            rows.truncate(page);
            rows.reverse();
            Page {
                rows,
                has_prev,
                has_next: false,
            }
        }
    })
}

/// Applies a [`Seek`] over a two-column sort key `(a, b)` to a boxed diesel query: the rows
/// strictly past the key, in the read's order, at most `limit`. The bound is the row
/// comparison `(a, b) < (ka, kb)`, which an index on `(a, b)` answers as the start of a range
/// scan (however many rows tie on `a`). Columns are given as `table::column`.
macro_rules! seek_by {
    ($q:expr, $seek:expr, desc = $desc:expr, $ta:ident :: $ca:ident, $tb:ident :: $cb:ident) => {{
        let seek = &$seek;
        let desc = seek.descending($desc);
        let mut q = $q;
        if let Some((ka, kb)) = seek.from {
            q = q.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "({}.{}, {}.{}) {} (",
                    stringify!($ta),
                    stringify!($ca),
                    stringify!($tb),
                    stringify!($cb),
                    seek.op($desc)
                ))
                .bind::<<$ta::$ca as diesel::Expression>::SqlType, _>(ka.clone())
                .sql(", ")
                .bind::<<$tb::$cb as diesel::Expression>::SqlType, _>(kb.clone())
                .sql(")"),
            );
        }
        let q = if desc {
            q.order(($ta::$ca.desc(), $tb::$cb.desc()))
        } else {
            q.order(($ta::$ca.asc(), $tb::$cb.asc()))
        };
        q.limit(seek.limit)
    }};
}
pub(crate) use seek_by;

/// A list's sort key as it travels in a page link: only digits, hex and `.`, so it needs no
/// escaping, and anything else is refused.
pub trait CursorKey: Sized {
    fn encode_cursor(&self) -> String;
    fn decode_cursor(s: &str) -> Option<Self>;
}

/// The longest cursor accepted (a Teams user id of 512 characters, as hex).
const MAX_CURSOR_LEN: usize = 2100;

impl CursorKey for i64 {
    fn encode_cursor(&self) -> String {
        self.to_string()
    }
    fn decode_cursor(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return None;
        }
        s.parse().ok()
    }
}

impl CursorKey for Uuid {
    fn encode_cursor(&self) -> String {
        self.simple().to_string()
    }
    fn decode_cursor(s: &str) -> Option<Self> {
        if s.len() != 32 {
            return None;
        }
        Uuid::try_parse(s).ok()
    }
}

impl CursorKey for String {
    fn encode_cursor(&self) -> String {
        hex::encode(self.as_bytes())
    }
    fn decode_cursor(s: &str) -> Option<Self> {
        if s.len() > MAX_CURSOR_LEN {
            return None;
        }
        String::from_utf8(hex::decode(s).ok()?).ok()
    }
}

impl CursorKey for DateTime<Utc> {
    fn encode_cursor(&self) -> String {
        self.timestamp_micros().to_string()
    }
    fn decode_cursor(s: &str) -> Option<Self> {
        DateTime::from_timestamp_micros(i64::decode_cursor(s)?)
    }
}

impl<A: CursorKey, B: CursorKey> CursorKey for (A, B) {
    fn encode_cursor(&self) -> String {
        format!("{}.{}", self.0.encode_cursor(), self.1.encode_cursor())
    }
    fn decode_cursor(s: &str) -> Option<Self> {
        if s.len() > MAX_CURSOR_LEN {
            return None;
        }
        let (a, b) = s.split_once('.')?;
        Some((A::decode_cursor(a)?, B::decode_cursor(b)?))
    }
}

/// Above this many rows a count is not made exactly.
pub const COUNT_CAP: i64 = 10_000;

/// How many rows a table (or a filtered list) holds, as shown to an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCount {
    /// Counted: at most [`COUNT_CAP`].
    Exact(i64),
    /// Counted up to the cap and more were there.
    MoreThan(i64),
    /// The planner's estimate (a big table).
    About(i64),
}

impl Default for RowCount {
    fn default() -> Self {
        RowCount::Exact(0)
    }
}

impl RowCount {
    /// The number, exact or not (for "is anything there").
    pub fn value(self) -> i64 {
        match self {
            RowCount::Exact(n) | RowCount::MoreThan(n) | RowCount::About(n) => n,
        }
    }

    /// "12", "10,000+" or "about 9,900,000".
    pub fn shown(self) -> String {
        match self {
            RowCount::Exact(n) => thousands(n),
            RowCount::MoreThan(n) => format!("{}+", thousands(n)),
            RowCount::About(n) => format!("about {}", thousands(two_figures(n))),
        }
    }

    /// A capped count's result (`counted` read at most `COUNT_CAP + 1` rows).
    pub fn from_capped(counted: i64) -> RowCount {
        if counted > COUNT_CAP {
            RowCount::MoreThan(COUNT_CAP)
        } else {
            RowCount::Exact(counted)
        }
    }
}

impl std::fmt::Display for RowCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// An estimate rounded to two significant figures: it is not more precise than that.
fn two_figures(n: i64) -> i64 {
    let mut unit = 1_i64;
    while n / unit >= 100 {
        unit *= 10;
    }
    (n + unit / 2) / unit * unit
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    n: Option<i64>,
}

/// The planner's estimate of a table's rows (`reltuples`, scaled to the table's current size as
/// the planner does), or `None` for a table never analysed.
pub fn estimate(conn: &mut PgConnection, table: &str) -> QueryResult<Option<i64>> {
    let r: Counted = diesel::sql_query(
        "SELECT CASE WHEN c.reltuples < 0 OR c.relpages <= 0 THEN NULL \
                     ELSE (c.reltuples / c.relpages \
                           * (pg_relation_size(c.oid) / current_setting('block_size')::bigint))::bigint \
                END AS n \
           FROM pg_class c WHERE c.oid = to_regclass($1)",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .get_result(conn)
    .optional()?
    .unwrap_or(Counted { n: None });
    Ok(r.n)
}

/// Counts the rows of `from_where` (a `FROM … WHERE …` without user text), reading at most
/// `COUNT_CAP + 1` of them.
pub fn capped(conn: &mut PgConnection, from_where: &str) -> QueryResult<RowCount> {
    let r: Counted = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM (SELECT 1 {from_where} LIMIT {}) capped",
        COUNT_CAP + 1
    ))
    .get_result(conn)?;
    Ok(RowCount::from_capped(r.n.unwrap_or(0)))
}

/// How many rows `table` holds: the estimate when the planner thinks it big, otherwise a
/// capped count (exact on a small table).
pub fn table_size(conn: &mut PgConnection, table: &'static str) -> QueryResult<RowCount> {
    match estimate(conn, table)? {
        Some(n) if n >= COUNT_CAP => Ok(RowCount::About(n)),
        _ => capped(conn, &format!("FROM {table}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_an_admin_expects() {
        assert_eq!(RowCount::Exact(0).shown(), "0");
        assert_eq!(RowCount::Exact(9_999).shown(), "9,999");
        assert_eq!(RowCount::from_capped(10_001).shown(), "10,000+");
        assert_eq!(RowCount::About(10_001).shown(), "about 10,000");
        assert_eq!(RowCount::About(9_912_345).shown(), "about 9,900,000");
        assert_eq!(RowCount::About(19_960_000).shown(), "about 20,000,000");
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let t = DateTime::from_timestamp_micros(1_733_300_000_123_456).unwrap();
        let id = Uuid::from_u128(0x5f0e_0000_0000_4000_8000_0000_0000_00a1);
        let k = (t, id);
        assert_eq!(
            <(DateTime<Utc>, Uuid)>::decode_cursor(&k.encode_cursor()),
            Some(k)
        );
        let s = ("29:user-1".to_owned(), 7_i64);
        assert_eq!(<(String, i64)>::decode_cursor(&s.encode_cursor()), Some(s));
        for bad in ["", "abc", "12.", "1.2.3", "99999999999999999999999", "zz.1"] {
            assert_eq!(<(i64, i64)>::decode_cursor(bad), None, "{bad}");
        }
        assert_eq!(i64::decode_cursor("1 OR 1=1"), None);
        assert_eq!(
            Uuid::decode_cursor("not-a-uuid-not-a-uuid-not-a-uuid"),
            None
        );
    }

    fn list(n: i64) -> impl FnMut(Seek<'_, i64>) -> QueryResult<Vec<i64>> {
        // the rows 1..=n displayed descending
        move |s| {
            let desc = s.descending(true);
            let mut v: Vec<i64> = (1..=n)
                .filter(|r| match s.from {
                    None => true,
                    Some(k) if desc => r < k,
                    Some(k) => r > k,
                })
                .collect();
            if desc {
                v.reverse();
            }
            v.truncate(s.limit as usize);
            Ok(v)
        }
    }

    #[test]
    fn walking_forward_and_back_shows_every_row_once() {
        let page = read(&Window::First, 50, list(120)).unwrap();
        assert_eq!(page.rows.first(), Some(&120));
        assert!(page.has_next && !page.has_prev);
        let mut seen = page.rows.clone();
        let mut at = page;
        while at.has_next {
            at = read(&Window::After(*at.rows.last().unwrap()), 50, list(120)).unwrap();
            seen.extend(&at.rows);
        }
        assert_eq!(seen, (1..=120).rev().collect::<Vec<_>>());
        let last = read(&Window::Last, 50, list(120)).unwrap();
        assert_eq!(last.rows, (1..=50).rev().collect::<Vec<_>>());
        assert!(last.has_prev && !last.has_next);
        let mut back = last.rows.clone();
        let mut at = last;
        while at.has_prev {
            at = read(&Window::Before(at.rows[0]), 50, list(120)).unwrap();
            back.splice(0..0, at.rows.clone());
        }
        assert_eq!(back, (1..=120).rev().collect::<Vec<_>>());
        let gone = read(&Window::Before(500), 50, list(120)).unwrap();
        assert_eq!(
            gone.rows.len(),
            50,
            "a cursor past the start shows the first page"
        );
    }
}
