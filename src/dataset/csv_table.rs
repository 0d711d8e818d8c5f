//! A CSV file as rows of text fields that can be edited and written back byte for byte.
//!
//! Every row keeps the exact bytes it was read from. Writing a table back reproduces the file
//! exactly, and a row that an edit touched is written fresh (minimal quoting, the file's own
//! line ending), so a diff against the original shows only the rows that changed. The typed
//! loader (`tables`) validates a `CsvTable`; the change log (`crate::changes`) edits one.

use super::problems::LoadError;

/// One record: its fields, its line, and its original text while it is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    /// Field values as read (untrimmed), one per header column.
    pub fields: Vec<String>,
    /// 1-based line the record starts on, in the table as last written or read.
    pub line: usize,
    /// The record's exact text with its line ending; `None` once edited.
    text: Option<String>,
}

/// A parsed CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTable {
    /// Path as shown in messages.
    pub path: String,
    /// Column names (trimmed), in file order.
    pub header: Vec<String>,
    /// Everything before the first record (byte-order mark, header line).
    head: String,
    /// `"\r\n"` or `"\n"`: the header line's own ending.
    newline: &'static str,
    /// The records.
    pub rows: Vec<CsvRow>,
}

impl CsvTable {
    /// Parse `content`; a malformed record is recorded in `errors` (with its line) and left out.
    /// `None` if even the header cannot be read.
    #[must_use]
    pub fn parse(path: &str, content: &str, errors: &mut LoadError) -> Option<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(content.as_bytes());
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h
                .iter()
                .map(|c| c.trim_start_matches('\u{feff}').trim().to_owned())
                .collect(),
            Err(e) => {
                errors.push(
                    format!("{path}:1"),
                    None,
                    format!("cannot read the header row: {e}"),
                );
                return None;
            }
        };
        let bytes = content.as_bytes();
        // The reader reports a record's position at the end of the previous line; the record
        // itself starts after that line ending (exact with CRLF and quoted newlines).
        let start_at = |byte: u64| {
            let mut i = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
            while i < bytes.len() && (bytes[i] == b'\r' || bytes[i] == b'\n') {
                i += 1;
            }
            i
        };
        let line_at = |i: usize| bytes[..i].iter().filter(|&&b| b == b'\n').count() + 1;
        let mut starts = Vec::new();
        let mut rows = Vec::new();
        for record in reader.records() {
            match record {
                Ok(r) => {
                    let start = r.position().map_or(bytes.len(), |p| start_at(p.byte()));
                    starts.push(start);
                    rows.push(CsvRow {
                        fields: r.iter().map(str::to_owned).collect(),
                        line: line_at(start),
                        text: None,
                    });
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| line_at(start_at(p.byte())));
                    errors.push(
                        format!("{path}:{line}"),
                        None,
                        format!("malformed CSV row: {e}"),
                    );
                }
            }
        }
        let first = starts.first().copied().unwrap_or(bytes.len());
        let head = content.get(..first).unwrap_or("").to_owned();
        // A row's text runs to the next row's start (or the end of the file). With a malformed
        // record in between, the text would include it: such a table never loads anyway.
        for (i, row) in rows.iter_mut().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
            row.text = content.get(starts[i]..end).map(str::to_owned);
        }
        let newline = if head.ends_with("\r\n") { "\r\n" } else { "\n" };
        Some(Self {
            path: path.to_owned(),
            header,
            head,
            newline,
            rows,
        })
    }

    /// Index of a column.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The trimmed value of `column` in row `row` (`""` if either is missing).
    #[must_use]
    pub fn get(&self, row: usize, column: &str) -> &str {
        self.column(column)
            .and_then(|c| self.rows.get(row)?.fields.get(c))
            .map_or("", |v| v.trim())
    }

    /// Set `column` of row `row`; the row is then written fresh. Unknown columns are ignored
    /// (callers check names against the header first).
    pub fn set(&mut self, row: usize, column: &str, value: &str) {
        if let Some(c) = self.column(column)
            && let Some(r) = self.rows.get_mut(row)
            && r.fields.get(c).is_some_and(|v| v != value)
        {
            r.fields[c] = value.to_owned();
            r.text = None;
        }
    }

    /// Append a row from `(column, value)` pairs; other columns are empty.
    pub fn push<'a>(&mut self, values: impl IntoIterator<Item = (&'a str, String)>) {
        let mut fields = vec![String::new(); self.header.len()];
        for (k, v) in values {
            if let Some(c) = self.column(k) {
                fields[c] = v;
            }
        }
        self.rows.push(CsvRow {
            fields,
            line: 0,
            text: None,
        });
        self.renumber();
    }

    /// Remove row `row`.
    pub fn remove(&mut self, row: usize) {
        if row < self.rows.len() {
            self.rows.remove(row);
            self.renumber();
        }
    }

    /// The table as CSV text: unchanged rows byte for byte, edited rows freshly written.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut out = self.head.clone();
        for row in &self.rows {
            match &row.text {
                Some(t) => out.push_str(t),
                None => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push_str(self.newline);
                    }
                    out.push_str(&self.write_fields(&row.fields));
                }
            }
        }
        out
    }

    /// Recompute every row's line number from the text it would be written as.
    fn renumber(&mut self) {
        let mut line = self.head.matches('\n').count() + 1;
        let mut ended = self.head.is_empty() || self.head.ends_with('\n');
        let texts: Vec<Option<String>> = self
            .rows
            .iter()
            .map(|r| r.text.is_none().then(|| self.write_fields(&r.fields)))
            .collect();
        for (row, fresh) in self.rows.iter_mut().zip(texts) {
            if !ended {
                line += 1;
            }
            row.line = line;
            let text = row.text.as_deref().or(fresh.as_deref()).unwrap_or("");
            line += text.matches('\n').count();
            ended = text.ends_with('\n');
        }
    }

    fn write_fields(&self, fields: &[String]) -> String {
        let mut w = csv::WriterBuilder::new()
            .terminator(if self.newline == "\r\n" {
                csv::Terminator::CRLF
            } else {
                csv::Terminator::Any(b'\n')
            })
            .from_writer(Vec::new());
        // Writing strings to a Vec cannot fail.
        let _ = w.write_record(fields);
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> CsvTable {
        let mut e = LoadError::default();
        let t = CsvTable::parse("t.csv", s, &mut e).expect("header");
        assert!(e.problems.is_empty(), "{e}");
        t
    }

    #[test]
    fn an_unedited_table_is_written_back_byte_for_byte() {
        for s in [
            "a,b\n1,2\n3,\"x, y\"\n",
            "a,b\r\n1,2\r\n\"multi\r\nline\",4\r\n",
            "\u{feff}a,b\n1,2",
            "a,b\n",
        ] {
            assert_eq!(table(s).to_csv(), s);
        }
    }

    #[test]
    fn only_edited_rows_change_and_keep_the_files_line_ending() {
        let mut t = table("a,b\r\n1,  2\r\n3,4\r\n");
        t.set(1, "b", "x, y");
        assert_eq!(t.to_csv(), "a,b\r\n1,  2\r\n3,\"x, y\"\r\n");
        assert_eq!(t.get(0, "b"), "2");
        t.push([("b", "new".to_owned())]);
        assert_eq!(t.rows[2].line, 4);
        t.remove(0);
        assert_eq!(t.to_csv(), "a,b\r\n3,\"x, y\"\r\n,new\r\n");
        assert_eq!((t.rows[0].line, t.rows[1].line), (2, 3));
    }

    #[test]
    fn a_row_appended_to_a_file_without_a_final_newline_starts_its_own_line() {
        let mut t = table("a,b\n1,2");
        t.push([("a", "3".to_owned()), ("b", "4".to_owned())]);
        assert_eq!(t.to_csv(), "a,b\n1,2\n3,4\n");
        assert_eq!(t.rows[1].line, 3);
    }

    #[test]
    fn line_numbers_count_quoted_newlines() {
        let t = table("a,b\n\"x\ny\",1\n2,3\n");
        assert_eq!((t.rows[0].line, t.rows[1].line), (2, 4));
    }
}
