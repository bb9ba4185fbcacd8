//! Amounts in words, Indian style: lakh and crore, no "and" between hundreds
//! and tens, paise after "and": "Rupees One Lakh Twenty Three Thousand Four
//! Hundred Fifty Six and Fifty Paise Only".

use rust_decimal::Decimal;

use crate::format::to_paise;
use crate::lang::Language;

const ONES: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const TENS: [&str; 10] = [
    "", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety",
];

/// The amount, rounded to paise, in words.
///
/// Zero is "Rupees Zero Only"; less than a rupee is "Fifty Paise Only";
/// a negative amount (net pay can be) is prefixed with "Minus". Crores
/// beyond 99 are counted with the same words ("One Thousand Crore").
pub fn amount_in_words(d: Decimal) -> String {
    in_words(d, &ENGLISH_WORDS)
}

/// English below a hundred: the tens, then the ones ("Forty Two").
fn english_below_hundred(n: u128) -> String {
    let n = n as usize;
    match (n < 20, n % 10) {
        (true, _) => ONES[n].to_string(),
        (false, 0) => TENS[n / 10].to_string(),
        (false, ones) => format!("{} {}", TENS[n / 10], ONES[ones]),
    }
}

/// The amount in words in a payslip's language: Hindi and Marathi in their own words, English
/// for the others (their number words are not written here yet).
pub fn amount_in_words_in(language: Language, d: Decimal) -> String {
    match language {
        Language::Hi => in_words(d, &HINDI_WORDS),
        Language::Mr => in_words(d, &MARATHI_WORDS),
        _ => in_words(d, &ENGLISH_WORDS),
    }
}

/// A language's words for amounts; the groups are Indian (crore, lakh, thousand, hundred) in
/// every language.
struct Words {
    below_hundred: fn(u128) -> String,
    crore: &'static str,
    lakh: &'static str,
    thousand: &'static str,
    hundreds: fn(u128) -> String,
    rupees: &'static str,
    /// "Rupees Twelve" (English) or "बारह रुपये" (Hindi, Marathi).
    rupees_first: bool,
    paise: &'static str,
    and: &'static str,
    only: &'static str,
    minus: &'static str,
}

const ENGLISH_WORDS: Words = Words {
    below_hundred: english_below_hundred,
    crore: "Crore",
    lakh: "Lakh",
    thousand: "Thousand",
    hundreds: |n| format!("{} Hundred", ONES[n as usize]),
    rupees: "Rupees",
    rupees_first: true,
    paise: "Paise",
    and: "and",
    only: "Only",
    minus: "Minus",
};

const HINDI_WORDS: Words = Words {
    below_hundred: |n| HINDI[n as usize].to_string(),
    crore: "करोड़",
    lakh: "लाख",
    thousand: "हज़ार",
    hundreds: |n| format!("{} सौ", HINDI[n as usize]),
    rupees: "रुपये",
    rupees_first: false,
    paise: "पैसे",
    and: "और",
    only: "मात्र",
    minus: "ऋण",
};

const MARATHI_WORDS: Words = Words {
    below_hundred: |n| MARATHI[n as usize].to_string(),
    crore: "कोटी",
    lakh: "लाख",
    thousand: "हजार",
    // Marathi joins the hundreds: दोनशे, तीनशे; a hundred alone is शंभर.
    hundreds: |n| match n {
        1 => "शंभर".to_string(),
        n => format!("{}शे", MARATHI[n as usize]),
    },
    rupees: "रुपये",
    rupees_first: false,
    paise: "पैसे",
    and: "आणि",
    only: "फक्त",
    minus: "उणे",
};

/// An amount in a language's words, grouped the Indian way: "Rupees Twelve Thousand Three
/// Hundred Forty Five and Fifty Paise Only", "बारह हज़ार तीन सौ पैंतालीस रुपये और पचास पैसे मात्र".
fn in_words(d: Decimal, words: &Words) -> String {
    let (negative, rupees, paise) = to_paise(d);
    let mut out = Vec::new();
    if negative {
        out.push(words.minus.to_string());
    }
    if rupees > 0 || paise == 0 {
        if words.rupees_first {
            out.push(words.rupees.to_string());
        }
        groups(rupees, words, &mut out);
        if !words.rupees_first {
            out.push(words.rupees.to_string());
        }
        if paise > 0 {
            out.push(words.and.to_string());
        }
    }
    if paise > 0 {
        out.push((words.below_hundred)(paise.into()));
        out.push(words.paise.to_string());
    }
    out.push(words.only.to_string());
    out.join(" ")
}

/// `n` as crore, lakh, thousand and hundred groups.
fn groups(n: u128, words: &Words, out: &mut Vec<String>) {
    if n == 0 {
        out.push((words.below_hundred)(0));
        return;
    }
    let crores = n / 10_000_000;
    if crores > 0 {
        groups(crores, words, out);
        out.push(words.crore.to_string());
    }
    let rest = n % 10_000_000;
    for (count, unit) in [(rest / 100_000, words.lakh), (rest / 1_000 % 100, words.thousand)] {
        if count > 0 {
            out.push((words.below_hundred)(count));
            out.push(unit.to_string());
        }
    }
    if !(rest / 100).is_multiple_of(10) {
        out.push((words.hundreds)(rest / 100 % 10));
    }
    if !rest.is_multiple_of(100) {
        out.push((words.below_hundred)(rest % 100));
    }
}

/// 0 to 99: each number below a hundred is a word of its own in Hindi.
const HINDI: [&str; 100] = [
    "शून्य",
    "एक",
    "दो",
    "तीन",
    "चार",
    "पाँच",
    "छह",
    "सात",
    "आठ",
    "नौ",
    "दस",
    "ग्यारह",
    "बारह",
    "तेरह",
    "चौदह",
    "पंद्रह",
    "सोलह",
    "सत्रह",
    "अठारह",
    "उन्नीस",
    "बीस",
    "इक्कीस",
    "बाईस",
    "तेईस",
    "चौबीस",
    "पच्चीस",
    "छब्बीस",
    "सत्ताईस",
    "अट्ठाईस",
    "उनतीस",
    "तीस",
    "इकतीस",
    "बत्तीस",
    "तैंतीस",
    "चौंतीस",
    "पैंतीस",
    "छत्तीस",
    "सैंतीस",
    "अड़तीस",
    "उनतालीस",
    "चालीस",
    "इकतालीस",
    "बयालीस",
    "तैंतालीस",
    "चवालीस",
    "पैंतालीस",
    "छियालीस",
    "सैंतालीस",
    "अड़तालीस",
    "उनचास",
    "पचास",
    "इक्यावन",
    "बावन",
    "तिरेपन",
    "चौवन",
    "पचपन",
    "छप्पन",
    "सत्तावन",
    "अट्ठावन",
    "उनसठ",
    "साठ",
    "इकसठ",
    "बासठ",
    "तिरसठ",
    "चौंसठ",
    "पैंसठ",
    "छियासठ",
    "सड़सठ",
    "अड़सठ",
    "उनहत्तर",
    "सत्तर",
    "इकहत्तर",
    "बहत्तर",
    "तिहत्तर",
    "चौहत्तर",
    "पचहत्तर",
    "छिहत्तर",
    "सतहत्तर",
    "अठहत्तर",
    "उन्यासी",
    "अस्सी",
    "इक्यासी",
    "बयासी",
    "तिरासी",
    "चौरासी",
    "पचासी",
    "छियासी",
    "सत्तासी",
    "अट्ठासी",
    "नवासी",
    "नब्बे",
    "इक्यानबे",
    "बानबे",
    "तिरानबे",
    "चौरानबे",
    "पंचानबे",
    "छियानबे",
    "सत्तानबे",
    "अट्ठानबे",
    "निन्यानबे",
];

/// 0 to 99: each number below a hundred is a word of its own in Marathi.
const MARATHI: [&str; 100] = [
    "शून्य",
    "एक",
    "दोन",
    "तीन",
    "चार",
    "पाच",
    "सहा",
    "सात",
    "आठ",
    "नऊ",
    "दहा",
    "अकरा",
    "बारा",
    "तेरा",
    "चौदा",
    "पंधरा",
    "सोळा",
    "सतरा",
    "अठरा",
    "एकोणीस",
    "वीस",
    "एकवीस",
    "बावीस",
    "तेवीस",
    "चोवीस",
    "पंचवीस",
    "सव्वीस",
    "सत्तावीस",
    "अठ्ठावीस",
    "एकोणतीस",
    "तीस",
    "एकतीस",
    "बत्तीस",
    "तेहेतीस",
    "चौतीस",
    "पस्तीस",
    "छत्तीस",
    "सदतीस",
    "अडतीस",
    "एकोणचाळीस",
    "चाळीस",
    "एक्केचाळीस",
    "बेचाळीस",
    "त्रेचाळीस",
    "चव्वेचाळीस",
    "पंचेचाळीस",
    "सेहेचाळीस",
    "सत्तेचाळीस",
    "अठ्ठेचाळीस",
    "एकोणपन्नास",
    "पन्नास",
    "एक्कावन्न",
    "बावन्न",
    "त्रेपन्न",
    "चोपन्न",
    "पंचावन्न",
    "छप्पन्न",
    "सत्तावन्न",
    "अठ्ठावन्न",
    "एकोणसाठ",
    "साठ",
    "एकसष्ट",
    "बासष्ट",
    "त्रेसष्ट",
    "चौसष्ट",
    "पासष्ट",
    "सहासष्ट",
    "सदुसष्ट",
    "अडुसष्ट",
    "एकोणसत्तर",
    "सत्तर",
    "एक्काहत्तर",
    "बाहत्तर",
    "त्र्याहत्तर",
    "चौऱ्याहत्तर",
    "पंच्याहत्तर",
    "शहात्तर",
    "सत्त्याहत्तर",
    "अठ्ठ्याहत्तर",
    "एकोणऐंशी",
    "ऐंशी",
    "एक्क्याऐंशी",
    "ब्याऐंशी",
    "त्र्याऐंशी",
    "चौऱ्याऐंशी",
    "पंच्याऐंशी",
    "शहाऐंशी",
    "सत्त्याऐंशी",
    "अठ्ठ्याऐंशी",
    "एकोणनव्वद",
    "नव्वद",
    "एक्क्याण्णव",
    "ब्याण्णव",
    "त्र्याण्णव",
    "चौऱ्याण्णव",
    "पंच्याण्णव",
    "शहाण्णव",
    "सत्त्याण्णव",
    "अठ्ठ्याण्णव",
    "नव्व्याण्णव",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> String {
        amount_in_words(s.parse().unwrap())
    }

    #[test]
    fn the_payslip_example() {
        assert_eq!(
            words("123456.50"),
            "Rupees One Lakh Twenty Three Thousand Four Hundred Fifty Six and Fifty Paise Only"
        );
    }

    #[test]
    fn zero_paise_only_and_negative() {
        assert_eq!(words("0"), "Rupees Zero Only");
        assert_eq!(words("0.004"), "Rupees Zero Only");
        assert_eq!(words("0.5"), "Fifty Paise Only");
        assert_eq!(words("-1500"), "Minus Rupees One Thousand Five Hundred Only");
        assert_eq!(words("-0.05"), "Minus Five Paise Only");
    }

    #[test]
    fn crores_beyond_ninety_nine() {
        assert_eq!(
            words("12345000000000"),
            "Rupees Twelve Lakh Thirty Four Thousand Five Hundred Crore Only"
        );
    }

    #[test]
    fn hindi_and_marathi_amounts() {
        let hi = |s: &str| amount_in_words_in(Language::Hi, s.parse().unwrap());
        let mr = |s: &str| amount_in_words_in(Language::Mr, s.parse().unwrap());
        assert_eq!(hi("12345.50"), "बारह हज़ार तीन सौ पैंतालीस रुपये और पचास पैसे मात्र");
        assert_eq!(hi("123456"), "एक लाख तेईस हज़ार चार सौ छप्पन रुपये मात्र");
        assert_eq!(hi("0"), "शून्य रुपये मात्र");
        assert_eq!(hi("0.05"), "पाँच पैसे मात्र");
        assert_eq!(hi("-99"), "ऋण निन्यानबे रुपये मात्र");
        assert_eq!(hi("250000000"), "पच्चीस करोड़ रुपये मात्र");
        assert_eq!(mr("12345.50"), "बारा हजार तीनशे पंचेचाळीस रुपये आणि पन्नास पैसे फक्त");
        assert_eq!(mr("100"), "शंभर रुपये फक्त");
        assert_eq!(mr("1100"), "एक हजार शंभर रुपये फक्त");
        assert_eq!(mr("200"), "दोनशे रुपये फक्त");
        // Other languages print English words (see the README).
        assert_eq!(
            amount_in_words_in(Language::Ta, "1".parse().unwrap()),
            "Rupees One Only"
        );
    }
}
