//! The Indian scripts payslips print, and how a string splits into runs of one script.
//!
//! Latin text (digits, amounts, ids, English) stays in DejaVu Sans and is drawn character by
//! character; a run of an Indian script is shaped (conjuncts, reordered vowel signs, marks
//! placed on their base) and drawn in that script's Noto Sans face.

#[cfg(test)]
use crate::lang::Language;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Script {
    Devanagari,
    Bengali,
    Gurmukhi,
    Gujarati,
    Oriya,
    Tamil,
    Telugu,
    Kannada,
    Malayalam,
}

impl Script {
    pub(crate) const ALL: [Script; 9] = [
        Script::Devanagari,
        Script::Bengali,
        Script::Gurmukhi,
        Script::Gujarati,
        Script::Oriya,
        Script::Tamil,
        Script::Telugu,
        Script::Kannada,
        Script::Malayalam,
    ];

    /// The script of a character, by its Unicode block (`None` for Latin and everything else).
    pub(crate) fn of(c: char) -> Option<Script> {
        Some(match u32::from(c) {
            0x0900..=0x097F | 0xA8E0..=0xA8FF | 0x1CD0..=0x1CFF => Script::Devanagari,
            0x0980..=0x09FF => Script::Bengali,
            0x0A00..=0x0A7F => Script::Gurmukhi,
            0x0A80..=0x0AFF => Script::Gujarati,
            0x0B00..=0x0B7F => Script::Oriya,
            0x0B80..=0x0BFF => Script::Tamil,
            0x0C00..=0x0C7F => Script::Telugu,
            0x0C80..=0x0CFF => Script::Kannada,
            0x0D00..=0x0D7F => Script::Malayalam,
            _ => return None,
        })
    }

    /// The script a language's payslip is printed in (`None`: Latin).
    #[cfg(test)]
    pub(crate) fn of_language(language: Language) -> Option<Script> {
        match language {
            Language::En => None,
            Language::Hi | Language::Mr => Some(Script::Devanagari),
            Language::Bn => Some(Script::Bengali),
            Language::Pa => Some(Script::Gurmukhi),
            Language::Gu => Some(Script::Gujarati),
            Language::Or => Some(Script::Oriya),
            Language::Ta => Some(Script::Tamil),
            Language::Te => Some(Script::Telugu),
            Language::Kn => Some(Script::Kannada),
            Language::Ml => Some(Script::Malayalam),
        }
    }

    /// HarfBuzz's script tag, so the shaper applies the script's rules without guessing.
    pub(crate) fn tag(self) -> harfrust::Script {
        use harfrust::script;
        match self {
            Script::Devanagari => script::DEVANAGARI,
            Script::Bengali => script::BENGALI,
            Script::Gurmukhi => script::GURMUKHI,
            Script::Gujarati => script::GUJARATI,
            Script::Oriya => script::ORIYA,
            Script::Tamil => script::TAMIL,
            Script::Telugu => script::TELUGU,
            Script::Kannada => script::KANNADA,
            Script::Malayalam => script::MALAYALAM,
        }
    }

    /// The Noto Sans face (regular or bold) and its PostScript name.
    pub(crate) fn font(self, bold: bool) -> (&'static [u8], &'static str) {
        macro_rules! noto {
            ($name:literal) => {
                if bold {
                    (
                        include_bytes!(concat!("../fonts/NotoSans", $name, "-Bold.ttf")).as_slice(),
                        concat!("NotoSans", $name, "-Bold"),
                    )
                } else {
                    (
                        include_bytes!(concat!("../fonts/NotoSans", $name, "-Regular.ttf")).as_slice(),
                        concat!("NotoSans", $name, "-Regular"),
                    )
                }
            };
        }
        match self {
            Script::Devanagari => noto!("Devanagari"),
            Script::Bengali => noto!("Bengali"),
            Script::Gurmukhi => noto!("Gurmukhi"),
            Script::Gujarati => noto!("Gujarati"),
            Script::Oriya => noto!("Oriya"),
            Script::Tamil => noto!("Tamil"),
            Script::Telugu => noto!("Telugu"),
            Script::Kannada => noto!("Kannada"),
            Script::Malayalam => noto!("Malayalam"),
        }
    }
}

/// A piece of a string in one script (`None`: Latin, drawn in DejaVu Sans).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run<'t> {
    pub script: Option<Script>,
    pub text: &'t str,
}

/// True when `text` has a character of an Indian script (and needs shaping).
pub(crate) fn needs_shaping(text: &str) -> bool {
    !text.is_ascii() && text.chars().any(|c| Script::of(c).is_some())
}

/// Characters that belong to the run around them rather than start one: the joiners, which
/// choose a conjunct's form, and the dandas (U+0964, U+0965), which Bengali, Gurmukhi and Odia
/// text use from the Devanagari block.
fn joins(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}' | '\u{0964}' | '\u{0965}')
}

/// `text` split into runs of one script. Spaces between two words of one script stay in that
/// run (the shaper sees whole phrases); a space next to Latin text is Latin.
pub(crate) fn runs(text: &str) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    let mut start = 0;
    let mut current: Option<Option<Script>> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let script = if joins(c) {
            current.flatten()
        } else if c == ' ' {
            // A space joins a script run only when the next non-space character continues it.
            let next = chars[i..].iter().map(|&(_, c)| c).find(|&c| c != ' ');
            match current.flatten() {
                Some(s) if next.is_some_and(|n| Script::of(n) == Some(s) || joins(n)) => Some(s),
                _ => None,
            }
        } else {
            Script::of(c)
        };
        match current {
            Some(open) if open == script => {}
            Some(open) => {
                runs.push(Run {
                    script: open,
                    text: &text[start..at],
                });
                start = at;
                current = Some(script);
            }
            None => current = Some(script),
        }
    }
    if let Some(open) = current {
        runs.push(Run {
            script: open,
            text: &text[start..],
        });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> Vec<(Option<Script>, &str)> {
        runs(text).into_iter().map(|r| (r.script, r.text)).collect()
    }

    #[test]
    fn a_string_splits_into_runs_of_one_script() {
        assert_eq!(shown("Net Pay"), [(None, "Net Pay")]);
        assert_eq!(shown(""), []);
        assert_eq!(shown("शुद्ध वेतन"), [(Some(Script::Devanagari), "शुद्ध वेतन")]);
        assert_eq!(
            shown("ESIC सं. 12"),
            [(None, "ESIC "), (Some(Script::Devanagari), "सं"), (None, ". 12")]
        );
        assert_eq!(
            shown("अक्टूबर 2026 की वेतन पर्ची"),
            [
                (Some(Script::Devanagari), "अक्टूबर"),
                (None, " 2026 "),
                (Some(Script::Devanagari), "की वेतन पर्ची")
            ]
        );
        // A danda in Bengali text stays in the Bengali run; joiners stay with their conjunct.
        assert_eq!(shown("নেই।"), [(Some(Script::Bengali), "নেই।")]);
        assert_eq!(
            shown("ओवर\u{200D}टाइम"),
            [(Some(Script::Devanagari), "ओवर\u{200D}टाइम")]
        );
        assert_eq!(
            shown("தமிழ் ಕನ್ನಡ"),
            [
                (Some(Script::Tamil), "தமிழ்"),
                (None, " "),
                (Some(Script::Kannada), "ಕನ್ನಡ")
            ]
        );
    }

    #[test]
    fn runs_cover_the_string_exactly() {
        for text in ["a अ b", "  अ  ", "।x", "x।", "\u{200D}अ", "ক্ষ ক্ষ 1"] {
            let joined: String = runs(text).iter().map(|r| r.text).collect();
            assert_eq!(joined, text);
            assert!(runs(text).iter().all(|r| !r.text.is_empty()));
        }
    }
}
