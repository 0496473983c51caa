//! Word-boundary segmentation of pure-ASCII text, a fast path that gives
//! exactly the segments of `unicode_segmentation::split_word_bounds` (UAX #29)
//! without its table look-ups.
//!
//! Most essays are plain ASCII, and in a perf profile of `bench features` the
//! general segmenter's character classification (a range-table search) took
//! about 15% of extraction time. For ASCII
//! the UAX #29 word-break classes are few (letters, digits, "_", the middles
//! ":" "." "'" "," ";", space, CR, LF, VT/FF) and the rules that apply to them
//! (WB3–WB3d, WB5–WB13b, WB999) are short, so they are written out here. A
//! property test checks the equivalence on random ASCII.

/// The UAX #29 word-break class of an ASCII byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// ALetter: A–Z, a–z.
    Letter,
    /// Numeric: 0–9.
    Digit,
    /// ExtendNumLet: "_".
    Underscore,
    /// MidLetter: ":".
    MidLetter,
    /// MidNumLet and Single_Quote: "." and "'".
    MidNumLet,
    /// MidNum: "," and ";".
    MidNum,
    /// WSegSpace: " ".
    Space,
    Cr,
    Lf,
    /// Newline: vertical tab and form feed.
    Newline,
    Other,
}

fn class(b: u8) -> Class {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
        b'0'..=b'9' => Class::Digit,
        b'_' => Class::Underscore,
        b':' => Class::MidLetter,
        b'.' | b'\'' => Class::MidNumLet,
        b',' | b';' => Class::MidNum,
        b' ' => Class::Space,
        b'\r' => Class::Cr,
        b'\n' => Class::Lf,
        0x0b | 0x0c => Class::Newline,
        _ => Class::Other,
    }
}

fn is_wordish(c: Class) -> bool {
    matches!(c, Class::Letter | Class::Digit | Class::Underscore)
}

/// Iterator over the word-boundary segments of an ASCII string.
pub struct AsciiWordBounds<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> AsciiWordBounds<'a> {
    /// Segments `text`, which must be ASCII (checked by the caller with
    /// `str::is_ascii`; on other text segments may split inside a character).
    pub fn new(text: &'a str) -> Self {
        debug_assert!(text.is_ascii());
        Self { text, pos: 0 }
    }
}

impl<'a> Iterator for AsciiWordBounds<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        let start = self.pos;
        if start >= len {
            return None;
        }
        let end = match class(bytes[start]) {
            // WB3: CR × LF; WB3a/b: break around other line ends.
            Class::Cr if bytes.get(start + 1) == Some(&b'\n') => start + 2,
            // WB3d: runs of spaces stay together.
            Class::Space => {
                let mut i = start + 1;
                while i < len && bytes[i] == b' ' {
                    i += 1;
                }
                i
            }
            c if is_wordish(c) => {
                let mut i = start + 1;
                while i < len {
                    let cur = class(bytes[i]);
                    if is_wordish(cur) {
                        // WB5, WB8–WB10, WB13a/b.
                        i += 1;
                        continue;
                    }
                    let prev = class(bytes[i - 1]);
                    let Some(&next) = bytes.get(i + 1) else {
                        break;
                    };
                    let next = class(next);
                    let joins = match (prev, cur, next) {
                        // WB6/WB7: letter (":" | "." | "'") letter.
                        (Class::Letter, Class::MidLetter | Class::MidNumLet, Class::Letter) => true,
                        // WB11/WB12: digit ("," | ";" | "." | "'") digit.
                        (Class::Digit, Class::MidNum | Class::MidNumLet, Class::Digit) => true,
                        _ => false,
                    };
                    if !joins {
                        break;
                    }
                    i += 2;
                }
                i
            }
            // WB999: anything else stands alone.
            _ => start + 1,
        };
        self.pos = end;
        Some(&self.text[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_segmentation::UnicodeSegmentation;

    fn same_as_unicode_segmentation(text: &str) -> bool {
        AsciiWordBounds::new(text).eq(text.split_word_bounds())
    }

    #[test]
    fn ascii_segments_match_uax29_on_typical_text() {
        for text in [
            "",
            "It's 3.5 km, i.e. far: don't go.\r\nNew line",
            "The highest class was Pharaohs.Then snake_case 1,000;2 a:b a.1 1.a",
            "  \t\u{b}\u{c}\n\r \"quoted\" (par.6) end.",
            "a'",
            "'a",
            "1,",
            ",1",
            "a__1_b",
            "x.",
            "\r\r\n\n",
        ] {
            assert!(same_as_unicode_segmentation(text), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn ascii_segments_match_uax29_on_random_text(text in "[a-cA-C0-2_:.',; \t\r\n\u{b}\u{c}\"!?()-]{0,40}") {
            let expected: Vec<&str> = text.split_word_bounds().collect();
            let got: Vec<&str> = AsciiWordBounds::new(&text).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn ascii_segments_match_uax29_on_any_ascii(text in "[\\x00-\\x7f]{0,60}") {
            let expected: Vec<&str> = text.split_word_bounds().collect();
            let got: Vec<&str> = AsciiWordBounds::new(&text).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
