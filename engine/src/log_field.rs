//! Log fields that carry input (SIP user parts, From and To, header values, user names, URLs,
//! HTTP paths): [`Escaped`] writes them so a text log line stays one line that says what it
//! seems to say.
//!
//! `tracing`'s text formatter writes a `%`-field with `Display`, byte for byte: a To user of
//! `alice\r\n2026-01-01 INFO security: auth ok user=admin` would forge a second line, and an
//! ESC sequence would repaint a terminal. Wrapped, such a value comes out quoted with every
//! control character escaped (`"alice\r\n2026..."`); a plain value (letters, digits and the
//! usual URI punctuation) comes out as it is, so `user=alice` still greps. Values longer than
//! [`MAX_CHARS`] are cut, with the number of characters left out, so one 8 KiB header cannot
//! flood the log either. The JSON formatter escapes by itself; the wrapper keeps its quoting
//! rule there too, harmlessly.
//!
//! ```
//! use engine::log_field::Escaped;
//! assert_eq!(Escaped("alice").to_string(), "alice");
//! assert_eq!(Escaped("a\r\nb").to_string(), r#""a\r\nb""#);
//! ```

use std::fmt::{self, Write};

/// The longest value written whole, in characters.
pub const MAX_CHARS: usize = 256;

/// A field value from outside, escaped for a text log (module doc). Use as
/// `tracing::info!(user = %Escaped(user), ...)`.
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

/// [`Escaped`] for an optional value (`-` when absent).
pub fn escaped_opt(v: Option<&str>) -> Escaped<'_> {
    Escaped(v.unwrap_or("-"))
}

/// Characters that need no quoting: what user parts, host names, URLs, tokens and numbers
/// are made of. No space among them: a field ends at a space, so without one a value cannot
/// pose as a further `key=value`.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '_'
                | '.'
                | '~'
                | '+'
                | '@'
                | ':'
                | '/'
                | '?'
                | '&'
                | '%'
                | '#'
                | '['
                | ']'
                | '!'
                | '$'
                | '\''
                | '('
                | ')'
                | '*'
                | ','
                | ';'
                | '<'
                | '>'
                | '='
        )
}

/// Characters written as an escape inside quotes: controls (C0, DEL, C1) and the Unicode
/// format characters that reorder or hide text (bidirectional overrides, zero widths).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let total = s.chars().count();
        if !s.is_empty() && total <= MAX_CHARS && s.chars().all(plain) {
            return f.write_str(s);
        }
        f.write_char('"')?;
        for c in s.chars().take(MAX_CHARS) {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\r' => f.write_str("\\r")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c if hidden(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')?;
        if total > MAX_CHARS {
            write!(f, "...(+{} chars)", total - MAX_CHARS)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> String {
        Escaped(s).to_string()
    }

    #[test]
    fn plain_values_stay_as_they_are() {
        for s in [
            "alice",
            "+14155550100",
            "sip:alice@example.com;transport=tcp",
            "https://app.example.com/events?x=1",
            "192.0.2.10:5060",
        ] {
            assert_eq!(e(s), s);
        }
    }

    #[test]
    fn line_breaks_and_controls_never_reach_the_log_raw() {
        let forged = "alice\r\n2026-01-01T00:00:00Z  INFO security: ok user=admin";
        let out = e(forged);
        assert!(!out.contains('\r') && !out.contains('\n'), "{out}");
        assert_eq!(
            out,
            r#""alice\r\n2026-01-01T00:00:00Z  INFO security: ok user=admin""#
        );
        assert_eq!(e("\x1b[31mred"), r#""\u{1b}[31mred""#);
        assert_eq!(e("a\u{202E}b\u{7f}\u{85}"), r#""a\u{202e}b\u{7f}\u{85}""#);
        assert_eq!(e("tab\there"), r#""tab\there""#);
        assert_eq!(e(r#"q"uote\"#), r#""q\"uote\\""#);
        assert_eq!(e(""), r#""""#, "an empty value is visible");
        assert_eq!(
            e("two words"),
            r#""two words""#,
            "no forged key=value after a space"
        );
        assert_eq!(e("é"), r#""é""#, "other text is kept, quoted");
    }

    #[test]
    fn long_values_are_cut_with_a_count() {
        let long = "x".repeat(MAX_CHARS + 10);
        let out = e(&long);
        assert!(out.ends_with("\"...(+10 chars)"), "{out}");
        assert_eq!(out.len(), MAX_CHARS + 2 + "...(+10 chars)".len());
        assert_eq!(escaped_opt(None).to_string(), "-");
    }

    #[test]
    fn a_tracing_text_line_stays_one_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let user = "bob\nFAKE LINE";
            tracing::info!(user = %Escaped(user), "auth failed");
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(r#"user="bob\nFAKE LINE""#), "{text}");
    }
}
