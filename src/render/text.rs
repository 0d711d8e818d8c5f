//! Text helpers for the SVG: XML escaping, an estimate of Open Sans advance widths, and word
//! wrapping. Estimates err on the wide side, so wrapped text and label boxes never overflow.

/// Escape text for an XML text node or attribute value.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Advance of one character of Open Sans, in ems (rounded up from the font's metrics).
fn advance(c: char) -> f64 {
    match c {
        ' ' => 0.27,
        'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 0.28,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 0.36,
        'm' | 'w' => 0.88,
        'M' | 'W' | '©' => 0.92,
        '–' | '—' => 0.62,
        c if c.is_ascii_uppercase() => 0.68,
        c if c.is_ascii_digit() => 0.58,
        _ => 0.57,
    }
}

/// Estimated width of `s` at `size` px; semibold runs about 4% wider.
#[must_use]
pub fn width(s: &str, size: f64, bold: bool) -> f64 {
    let ems: f64 = s.chars().map(advance).sum();
    ems * size * if bold { 1.04 } else { 1.0 }
}

/// Break `s` into lines no wider than `max` px (a single word wider than `max` gets a line of
/// its own).
#[must_use]
pub fn wrap(s: &str, size: f64, bold: bool, max: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && width(&candidate, size, bold) > max {
            lines.push(std::mem::take(&mut line));
            line = word.to_owned();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(
            esc("Bath & <\"NE\"> Somerset's"),
            "Bath &amp; &lt;&quot;NE&quot;&gt; Somerset&apos;s"
        );
    }

    #[test]
    fn wrapping_keeps_every_word_in_order_within_the_width() {
        let s = "Source: Office for National Statistics licensed under the Open Government Licence v.3.0";
        let lines = wrap(s, 10.0, false, 150.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), s);
        for l in &lines {
            assert!(width(l, 10.0, false) <= 150.0 || !l.contains(' '), "{l}");
        }
    }
}
