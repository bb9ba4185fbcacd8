//! One-page A4 payslip PDF, written with pdf-writer.
//!
//! Fonts come prepared from [`crate::font`], so a payslip costs its own
//! content stream plus copying the fonts' finished bytes. Layout works in
//! points from the top-left corner, `y` being the text baseline or a box's
//! top; drawing converts to PDF's bottom-up coordinates.

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use chrono::Datelike;
use flate2::Compression;
use payroll_engine::masking::{mask_account, mask_pan};
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use rust_decimal::Decimal;

use crate::Error;
use crate::deflate::{Wrapping, deflate};
use crate::font::{Extras, Face, OBJECTS_PER_FACE, Program, write_font, written_len};
use crate::format::{format_rupees, or_dash};
use crate::lang::{Catalogue, Language, Layout};
use crate::model::{Item, Line, Payslip};
use crate::script::{Script, needs_shaping, runs};
use crate::shaping::{FACE_COUNT, ScriptFaces, Shaped, SubsetKey, Used, face_index, script_faces};
use crate::words::amount_in_words_in;

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 36.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const PAD: f32 = 8.0;
const ROW_H: f32 = 17.0;
/// Lowest baseline for content; below it sits the footer note.
const CONTENT_BOTTOM: f32 = PAGE_H - 52.0;
const ATTENDANCE_PER_ROW: usize = 6;
/// Bytes of drawing operators a payslip's page takes before deflating: about 10 KB in
/// English, 20 KB in an Indian script.
const CONTENT_CAPACITY: usize = 32 * 1024;

const INK: Rgb = Rgb(33, 37, 41);
const MUTED: Rgb = Rgb(98, 108, 120);
const BRAND: Rgb = Rgb(28, 54, 96);
const BRAND_TINT: Rgb = Rgb(226, 233, 244);
const ZEBRA: Rgb = Rgb(246, 248, 251);
const RULE: Rgb = Rgb(196, 204, 216);
const WHITE: Rgb = Rgb(255, 255, 255);

/// Renders payslip PDFs; build once per batch and share across threads.
pub(crate) struct PdfRenderer {
    regular: Face,
    bold: Face,
    /// The Indian scripts' faces, shared by the process.
    scripts: &'static ScriptFaces,
    /// Strings shaped in this batch, a cache per face ([`face_index`]): the frame's and the
    /// components' labels are the same on every payslip of a language, so each is shaped once.
    shaped: Vec<BatchCache<String, Shaped>>,
    /// Script subsets built in this batch, by the glyphs and text they hold: payslips of one
    /// language whose names and values add no glyph embed the same bytes.
    programs: BatchCache<(Script, bool, SubsetKey), Program>,
}

/// What a batch remembers, by key. Bounded: past [`BatchCache::ENTRIES`], work is done again
/// rather than remembered.
struct BatchCache<K, V>(RwLock<HashMap<K, Arc<V>, foldhash::fast::RandomState>>);

impl<K: Hash + Eq, V> BatchCache<K, V> {
    const ENTRIES: usize = 4096;

    fn new() -> Self {
        BatchCache(RwLock::default())
    }

    /// The value for `key`, made by `make` the first time.
    fn get_or_try<Q, E>(&self, key: &Q, make: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(value) = self.0.read().ok().and_then(|map| map.get(key).cloned()) {
            return Ok(value);
        }
        let value = Arc::new(make()?);
        if let Ok(mut map) = self.0.write()
            && map.len() < Self::ENTRIES
        {
            map.insert(key.to_owned(), Arc::clone(&value));
        }
        Ok(value)
    }
}

#[derive(Clone, Copy)]
enum Weight {
    Regular,
    Bold,
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const PAGE: Ref = Ref::new(3);
const CONTENT: Ref = Ref::new(4);
const INFO: Ref = Ref::new(5);
const REGULAR_FONT: Ref = Ref::new(6);
const BOLD_FONT: Ref = Ref::new(6 + OBJECTS_PER_FACE);
/// The script faces a payslip used follow, in first-use order.
const FIRST_SCRIPT_FONT: i32 = 6 + 2 * OBJECTS_PER_FACE;
/// Their resource names: at most every script in both weights.
const SCRIPT_FONT_NAMES: [&[u8]; 2 * Script::ALL.len()] = [
    b"S0", b"S1", b"S2", b"S3", b"S4", b"S5", b"S6", b"S7", b"S8", b"S9", b"S10", b"S11", b"S12", b"S13", b"S14",
    b"S15", b"S16", b"S17",
];

impl PdfRenderer {
    pub(crate) fn new() -> Result<Self, Error> {
        Ok(PdfRenderer {
            regular: Face::new(dejavu::sans::regular(), "DejaVuSans")?,
            bold: Face::new(dejavu::sans::bold(), "DejaVuSans-Bold")?,
            scripts: script_faces()?,
            shaped: (0..FACE_COUNT).map(|_| BatchCache::new()).collect(),
            programs: BatchCache::new(),
        })
    }

    pub(crate) fn render(&self, p: &Payslip) -> Result<Vec<u8>, Error> {
        let mut canvas = Canvas {
            // Room for a payslip's drawing: growing the buffer copied it over and over.
            content: Content::with_capacity(CONTENT_CAPACITY),
            r: self,
            extras: [Extras::default(), Extras::default()],
            used: Vec::new(),
            language: p.language,
            words: p.language.catalogue(),
            english: (p.layout == Layout::Bilingual && p.language != Language::En).then(|| Language::En.catalogue()),
            fill: None,
            stroke: None,
        };
        canvas.payslip(p)?;
        let Canvas {
            content, extras, used, ..
        } = canvas;
        // Fastest deflate level: the content stream is small and repetitive,
        // and level 1 gets most of the gain for a fraction of the time.
        let content = deflate(&content.finish(), Compression::fast(), Wrapping::Zlib)?;
        let [regular_extras, bold_extras] = &extras;
        let regular = self.regular.program(regular_extras)?;
        let bold = self.bold.program(bold_extras)?;
        let scripts = used
            .iter()
            .map(|((script, bold), used)| self.program(*script, *bold, used))
            .collect::<Result<Vec<Arc<Program>>, Error>>()?;

        let fonts_len: usize = [regular.as_ref(), bold.as_ref()]
            .into_iter()
            .chain(scripts.iter().map(Arc::as_ref))
            .map(written_len)
            .sum();
        let mut pdf = Pdf::with_capacity(content.len() + fonts_len + 2048);
        pdf.catalog(CATALOG).pages(PAGES);
        pdf.pages(PAGES).kids([PAGE]).count(1);
        let mut page = pdf.page(PAGE);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(PAGES)
            .contents(CONTENT);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"R"), REGULAR_FONT).pair(Name(b"B"), BOLD_FONT);
        for (k, name) in SCRIPT_FONT_NAMES.iter().enumerate().take(scripts.len()) {
            fonts.pair(Name(name), script_font_ref(k));
        }
        fonts.finish();
        resources.finish();
        page.finish();
        pdf.stream(CONTENT, &content).filter(Filter::FlateDecode);
        let title = format!("Payslip {} {}", p.worker.worker_id, p.period);
        let d = p.generated_on;
        pdf.document_info(INFO)
            .title(TextStr(&title))
            .creator(TextStr("payroll-payslips"))
            .creation_date(
                Date::new(d.year().clamp(0, 9999) as u16)
                    .month(d.month() as u8)
                    .day(d.day() as u8),
            );
        self.regular.write(&mut pdf, REGULAR_FONT, &regular);
        self.bold.write(&mut pdf, BOLD_FONT, &bold);
        for (k, (((script, bold), _), program)) in used.iter().zip(&scripts).enumerate() {
            let descriptor = &self.scripts.get(*script, *bold).descriptor;
            write_font(&mut pdf, script_font_ref(k), program, descriptor);
        }
        Ok(pdf.finish())
    }

    /// `text` shaped in a script face, from the batch's cache when it was shaped before.
    fn shape(&self, script: Script, bold: bool, text: &str) -> Arc<Shaped> {
        let face = self.scripts.get(script, bold);
        let Ok(shaped) =
            self.shaped[face_index(script, bold)].get_or_try(text, || Ok::<_, Infallible>(face.shape(text)));
        shaped
    }

    /// The embedded subset of the glyphs a payslip drew in a script face, from the batch's
    /// cache when another payslip drew the same glyphs for the same text.
    fn program(&self, script: Script, bold: bool, used: &Used) -> Result<Arc<Program>, Error> {
        self.programs.get_or_try(&(script, bold, used.key()), || {
            self.scripts.get(script, bold).program(used)
        })
    }

    fn face(&self, w: Weight) -> &Face {
        match w {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

/// Text style: weight, size, colour.
#[derive(Clone, Copy)]
struct Style(Weight, f32, Rgb);

const LABEL: Style = Style(Weight::Regular, 8.0, MUTED);
const BODY: Style = Style(Weight::Regular, 9.0, INK);
const STRONG: Style = Style(Weight::Bold, 9.0, INK);
const HEAD: Style = Style(Weight::Bold, 9.0, BRAND);
const SECTION: Style = Style(Weight::Bold, 10.0, BRAND);
/// English beneath a label, in the bilingual layout.
const ENGLISH: Style = Style(Weight::Regular, 6.0, MUTED);
/// A row of the bilingual layout: the label, and English beneath it.
const BILINGUAL_ROW_H: f32 = 24.0;

fn script_font_ref(k: usize) -> Ref {
    Ref::new(FIRST_SCRIPT_FONT + k as i32 * OBJECTS_PER_FACE)
}

struct Canvas<'r> {
    content: Content,
    r: &'r PdfRenderer,
    /// Characters outside the prepared font subsets, per weight.
    extras: [Extras; 2],
    /// The script faces drawn with (script, bold), in first-use order, and their glyphs.
    used: Vec<((Script, bool), Used)>,
    language: Language,
    /// The frame's words in the payslip's language.
    words: &'static Catalogue,
    /// English's, when labels carry English beneath them (the bilingual layout).
    english: Option<&'static Catalogue>,
    /// The fill and stroke colours last set: an operator only when one changes (a payslip
    /// drew a hundred text runs, most in the same ink, each setting it again).
    fill: Option<Rgb>,
    stroke: Option<Rgb>,
}

impl Canvas<'_> {
    fn payslip(&mut self, p: &Payslip) -> Result<(), Error> {
        let mut y = self.header(p);
        y = self.worker(p, y + 14.0);
        if !p.attendance.is_empty() {
            y = self.attendance(&p.attendance, y + 14.0);
        }
        y = self.earnings_and_deductions(p, y + 14.0);
        if !p.employer_contributions.is_empty() {
            y = self.employer_contributions(&p.employer_contributions, y + 14.0);
        }
        let words = self.words;
        if p.arrears.is_empty() {
            let english = self.en(|e| &e.net_pay);
            y = self.net_pay(&words.net_pay, english, p.net_pay, y + 14.0);
        } else {
            y = self.arrears(p, y + 14.0);
            let english = self.en(|e| &e.net_payable);
            y = self.net_pay(&words.net_payable, english, p.net_payable, y + 14.0);
        }
        if y > CONTENT_BOTTOM {
            return Err(Error::PageOverflow {
                worker_id: p.worker.worker_id.clone(),
            });
        }
        let footer = &words.footer;
        self.text(
            PAGE_W / 2.0 - self.width(LABEL, footer) / 2.0,
            PAGE_H - 26.0,
            LABEL,
            footer,
        );
        if let Some(english) = self.en(|e| &e.footer) {
            self.text(
                PAGE_W / 2.0 - self.width(ENGLISH, english) / 2.0,
                PAGE_H - 17.0,
                ENGLISH,
                english,
            );
        }
        Ok(())
    }

    /// Full-width band with the organisation and the period; returns its bottom.
    fn header(&mut self, p: &Payslip) -> f32 {
        let band_h = 74.0;
        self.fill(0.0, 0.0, PAGE_W, band_h, BRAND);
        let right = PAGE_W - MARGIN;
        let org_w = CONTENT_W - 170.0;
        let org = self.fit(Style(Weight::Bold, 15.0, WHITE), &p.org_name, org_w);
        self.text(MARGIN, 34.0, Style(Weight::Bold, 15.0, WHITE), &org);
        let w = self.words;
        let title = Catalogue::with_period(&w.title, &p.period_label);
        let title = self.fit(Style(Weight::Regular, 10.5, WHITE), &title, org_w);
        let title_y = if self.english.is_some() { 50.0 } else { 54.0 };
        self.text(MARGIN, title_y, Style(Weight::Regular, 10.5, WHITE), &title);
        let light = Style(Weight::Regular, 8.0, BRAND_TINT);
        if let Some(english) = self.english {
            let period = english_period(&p.period).unwrap_or_else(|| p.period.clone());
            let title = Catalogue::with_period(&english.title, &period);
            self.text(MARGIN, 63.0, Style(Weight::Regular, 7.5, BRAND_TINT), &title);
        }
        // In the bilingual layout the three lines' labels read "local · English".
        let label = |local: &str, english: Option<&str>| match english {
            Some(english) => format!("{local} · {english}"),
            None => local.to_string(),
        };
        let run_label = label(&w.run_id, self.en(|e| &e.run_id));
        let run = format!("{run_label} {}", self.fit(light, &p.run_id, 150.0));
        self.text_at(right, 34.0, light, &run, Align::Right);
        let generated_label = label(&w.generated, self.en(|e| &e.generated));
        let generated = format!("{generated_label} {}", self.language.date(p.generated_on));
        self.text_at(right, 47.0, light, &generated, Align::Right);
        let period = format!("{} {}", label(&w.period, self.en(|e| &e.period)), p.period);
        self.text_at(right, 60.0, light, &period, Align::Right);
        band_h
    }

    /// Identity block: two columns of label / value pairs in a box.
    fn worker(&mut self, p: &Payslip, top: f32) -> f32 {
        let w = &p.worker;
        let account = mask_account(&w.bank_account);
        let pan = mask_pan(&w.pan);
        let words = self.words;
        let en = |pick: fn(&Catalogue) -> &String| self.en(pick);
        let left = [
            (words.employee_id.as_str(), en(|e| &e.employee_id), w.worker_id.as_str()),
            (&words.name, en(|e| &e.name), &w.name),
            (&words.designation, en(|e| &e.designation), &w.designation),
            (&words.site, en(|e| &e.site), &w.site),
        ];
        let right = [
            (words.uan.as_str(), en(|e| &e.uan), w.uan.as_str()),
            (&words.esic_no, en(|e| &e.esic_no), &w.esic_no),
            (&words.bank_account, en(|e| &e.bank_account), &account),
            (&words.pan, en(|e| &e.pan), &pan),
        ];
        let row_h = self.row_h();
        let h = left.len() as f32 * row_h + PAD;
        self.stroke_rect(MARGIN, top, CONTENT_W, h, RULE);
        let half = CONTENT_W / 2.0;
        let value_dx = 78.0;
        for (col, pairs) in [left, right].iter().enumerate() {
            let x = MARGIN + PAD + col as f32 * half;
            for (i, (label, english, value)) in pairs.iter().enumerate() {
                let bottom = top + PAD / 2.0 + row_h * (i as f32 + 1.0) - 5.0;
                let y = if english.is_some() { bottom - 9.0 } else { bottom };
                let label = self.fit(LABEL, label, value_dx - 4.0);
                self.text(x, y, LABEL, &label);
                if let Some(english) = english {
                    let english = self.fit(ENGLISH, english, value_dx - 4.0);
                    self.text(x, bottom, ENGLISH, &english);
                }
                let value = self.fit(STRONG, or_dash(value), half - value_dx - 2.0 * PAD);
                self.text(x + value_dx, y, STRONG, &value);
            }
        }
        top + h
    }

    /// Attendance figures as cells of label over value, wrapping after
    /// [`ATTENDANCE_PER_ROW`] so any number of items given by the ruleset fits.
    fn attendance(&mut self, items: &[Item], top: f32) -> f32 {
        let words = self.words;
        let y = self.section_title(top, &words.attendance, self.en(|e| &e.attendance));
        let cell_w = CONTENT_W / ATTENDANCE_PER_ROW as f32;
        let bilingual = self.english.is_some();
        let cell_h = if bilingual { 40.0 } else { 32.0 };
        let rows = items.len().div_ceil(ATTENDANCE_PER_ROW);
        self.fill(MARGIN, y, CONTENT_W, cell_h * rows as f32, ZEBRA);
        self.stroke_rect(MARGIN, y, CONTENT_W, cell_h * rows as f32, RULE);
        for (i, item) in items.iter().enumerate() {
            let x = MARGIN + (i % ATTENDANCE_PER_ROW) as f32 * cell_w + PAD;
            let row_top = y + (i / ATTENDANCE_PER_ROW) as f32 * cell_h;
            let label = self.fit(LABEL, &item.label, cell_w - 2.0 * PAD);
            self.text(x, row_top + 12.0, LABEL, &label);
            if let Some(english) = item.english.as_deref().filter(|_| bilingual) {
                let english = self.fit(ENGLISH, english, cell_w - 2.0 * PAD);
                self.text(x, row_top + 20.0, ENGLISH, &english);
            }
            let big = Style(Weight::Bold, 11.0, INK);
            let value = self.fit(big, &item.value, cell_w - 2.0 * PAD);
            self.text(x, row_top + cell_h - 6.0, big, &value);
        }
        y + cell_h * rows as f32
    }

    /// Earnings and deductions side by side, each half a label/amount table,
    /// closed by a totals row across both.
    fn earnings_and_deductions(&mut self, p: &Payslip, top: f32) -> f32 {
        let half = CONTENT_W / 2.0;
        let row_h = self.row_h();
        let rows = p.earnings.len().max(p.deductions.len());
        let body_h = row_h * rows as f32;
        let h = row_h * 2.0 + body_h;
        self.fill(MARGIN, top, CONTENT_W, row_h, BRAND_TINT);
        for i in (0..rows).filter(|i| i % 2 == 1) {
            self.fill(MARGIN, top + row_h * (i as f32 + 1.0), CONTENT_W, row_h, ZEBRA);
        }
        self.fill(MARGIN, top + row_h + body_h, CONTENT_W, row_h, BRAND_TINT);
        self.stroke_rect(MARGIN, top, CONTENT_W, h, RULE);
        self.vline(MARGIN + half, top, h, RULE);
        self.hline(MARGIN, top + row_h + body_h, CONTENT_W, RULE);
        let w = self.words;
        let sides = [
            (
                &p.earnings,
                (w.earnings.as_str(), self.en(|e| &e.earnings)),
                (w.gross_earnings.as_str(), self.en(|e| &e.gross_earnings)),
                p.gross,
            ),
            (
                &p.deductions,
                (w.deductions.as_str(), self.en(|e| &e.deductions)),
                (w.total_deductions.as_str(), self.en(|e| &e.total_deductions)),
                p.total_deductions,
            ),
        ];
        let amount = (w.amount.as_str(), self.en(|e| &e.amount));
        for (col, (lines, title, total_label, total)) in sides.into_iter().enumerate() {
            let x = MARGIN + col as f32 * half;
            self.amount_row(x, half, top, HEAD, title, amount);
            for (i, line) in lines.iter().enumerate() {
                let row_top = top + row_h * (i as f32 + 1.0);
                let amount = format_rupees(line.amount);
                self.amount_row(x, half, row_top, BODY, self.line_label(line), (amount.as_str(), None));
            }
            let total_top = top + row_h + body_h;
            self.amount_row(
                x,
                half,
                total_top,
                STRONG,
                total_label,
                (format_rupees(total).as_str(), None),
            );
        }
        top + h
    }

    /// Employer contributions, split over two columns like the table above.
    fn employer_contributions(&mut self, lines: &[Line], top: f32) -> f32 {
        let words = self.words;
        let english = self.en(|e| &e.employer_contributions);
        let y = self.section_title(top, &words.employer_contributions, english);
        let half = CONTENT_W / 2.0;
        let row_h = self.row_h();
        let rows = lines.len().div_ceil(2);
        let h = row_h * rows as f32;
        self.stroke_rect(MARGIN, y, CONTENT_W, h, RULE);
        self.vline(MARGIN + half, y, h, RULE);
        for (i, line) in lines.iter().enumerate() {
            let x = MARGIN + (i / rows) as f32 * half;
            let row_top = y + row_h * (i % rows) as f32;
            let amount = format_rupees(line.amount);
            self.amount_row(x, half, row_top, BODY, self.line_label(line), (amount.as_str(), None));
        }
        y + h
    }

    /// Arrears, a block per earlier period: each component's difference, then what the period
    /// adds to this payslip; the last row is this period's net pay, so the box below adds up.
    fn arrears(&mut self, p: &Payslip, top: f32) -> f32 {
        let w = self.words;
        let mut y = self.section_title(top, &w.arrears, self.en(|e| &e.arrears));
        let row_h = self.row_h();
        let rows: usize = p.arrears.iter().map(|a| a.lines.len() + 2).sum::<usize>() + 1;
        self.stroke_rect(MARGIN, y, CONTENT_W, row_h * rows as f32, RULE);
        let difference = (w.difference.as_str(), self.en(|e| &e.difference));
        for period in &p.arrears {
            self.fill(MARGIN, y, CONTENT_W, row_h, BRAND_TINT);
            let english = period
                .english_period_label
                .as_deref()
                .filter(|_| self.english.is_some());
            self.amount_row(
                MARGIN,
                CONTENT_W,
                y,
                HEAD,
                (period.period_label.as_str(), english),
                difference,
            );
            y += row_h;
            for line in &period.lines {
                let amount = format_rupees(line.amount);
                self.amount_row(
                    MARGIN,
                    CONTENT_W,
                    y,
                    BODY,
                    self.line_label(line),
                    (amount.as_str(), None),
                );
                y += row_h;
            }
            let total = Catalogue::with_period(&w.arrears_net, &period.period_label);
            let english = self
                .english
                .zip(period.english_period_label.as_deref())
                .map(|(e, label)| Catalogue::with_period(&e.arrears_net, label));
            let net = format_rupees(period.net);
            self.amount_row(
                MARGIN,
                CONTENT_W,
                y,
                STRONG,
                (total.as_str(), english.as_deref()),
                (net.as_str(), None),
            );
            self.hline(MARGIN, y + row_h, CONTENT_W, RULE);
            y += row_h;
        }
        let label = (w.net_pay_of_period.as_str(), self.en(|e| &e.net_pay_of_period));
        self.amount_row(
            MARGIN,
            CONTENT_W,
            y,
            STRONG,
            label,
            (format_rupees(p.net_pay).as_str(), None),
        );
        y + row_h
    }

    /// The box a worker looks for first: what they are paid, in figures and in words.
    fn net_pay(&mut self, title: &str, english: Option<&str>, net: Decimal, top: f32) -> f32 {
        let inner = CONTENT_W - 2.0 * PAD - 2.0;
        let words = format!("{}: {}", self.words.in_words, amount_in_words_in(self.language, net));
        let lines = self.wrap(BODY, &words, inner);
        let under = if english.is_some() { 9.0 } else { 0.0 };
        let h = 34.0 + under + 12.0 * lines.len() as f32;
        self.fill(MARGIN, top, CONTENT_W, h, BRAND_TINT);
        self.fill(MARGIN, top, 4.0, h, BRAND);
        self.text(MARGIN + PAD + 2.0, top + 21.0, Style(Weight::Bold, 12.0, BRAND), title);
        if let Some(english) = english {
            self.text(
                MARGIN + PAD + 2.0,
                top + 30.0,
                Style(Weight::Regular, 7.0, BRAND),
                english,
            );
        }
        let figure = format_rupees(net);
        let figure_style = Style(Weight::Bold, 15.0, BRAND);
        self.text_at(PAGE_W - MARGIN - PAD, top + 22.0, figure_style, &figure, Align::Right);
        for (i, line) in lines.iter().enumerate() {
            self.text(MARGIN + PAD + 2.0, top + 38.0 + under + 12.0 * i as f32, BODY, line);
        }
        top + h
    }

    /// A section's title, and English beneath it in the bilingual layout; returns where the
    /// section's body starts.
    fn section_title(&mut self, top: f32, title: &str, english: Option<&str>) -> f32 {
        self.text(MARGIN, top + 9.0, SECTION, title);
        match english {
            Some(english) => {
                self.text(MARGIN, top + 17.0, ENGLISH, english);
                top + 21.0
            }
            None => top + 14.0,
        }
    }

    /// The frame's English for a label, in the bilingual layout.
    fn en(&self, pick: fn(&Catalogue) -> &String) -> Option<&'static str> {
        self.english.map(|e| pick(e).as_str())
    }

    /// A table row's height: taller when English sits beneath the labels.
    fn row_h(&self) -> f32 {
        if self.english.is_some() { BILINGUAL_ROW_H } else { ROW_H }
    }

    /// A payslip line's label, with its English in the bilingual layout.
    fn line_label<'l>(&self, line: &'l Line) -> (&'l str, Option<&'l str>) {
        (&line.label, line.english.as_deref().filter(|_| self.english.is_some()))
    }

    /// Label on the left, amount right-aligned, within one table half; each with its English
    /// beneath when one is given (the bilingual layout).
    fn amount_row(
        &mut self,
        x: f32,
        w: f32,
        top: f32,
        style: Style,
        (label, english): (&str, Option<&str>),
        (amount, amount_english): (&str, Option<&str>),
    ) {
        let row_h = self.row_h();
        let bottom = top + row_h - 5.0;
        let baseline = if self.english.is_some() { bottom - 9.0 } else { bottom };
        let amount_w = self.width(style, amount);
        let label_w = w - 3.0 * PAD - amount_w;
        let fitted = self.fit(style, label, label_w);
        self.text(x + PAD, baseline, style, &fitted);
        self.text_at(x + w - PAD, baseline, style, amount, Align::Right);
        if self.english.is_some() {
            if let Some(english) = english {
                let english = self.fit(ENGLISH, english, label_w);
                self.text(x + PAD, bottom, ENGLISH, &english);
            }
            if let Some(english) = amount_english {
                self.text_at(x + w - PAD, bottom, ENGLISH, english, Align::Right);
            }
        }
    }

    fn width(&self, style: Style, text: &str) -> f32 {
        if !needs_shaping(text) {
            return self.r.face(style.0).width(text) * style.1;
        }
        self.lay_out(style.0, text).iter().map(|run| run.width).sum::<f32>() * style.1
    }

    /// `text` in runs of one script, the script runs shaped, with each run's width in ems.
    fn lay_out<'t>(&self, weight: Weight, text: &'t str) -> Vec<Laid<'t>> {
        let bold = matches!(weight, Weight::Bold);
        runs(text)
            .into_iter()
            .map(|run| match run.script {
                None => Laid {
                    text: run.text,
                    shaped: None,
                    width: self.r.face(weight).width(run.text),
                },
                Some(script) => {
                    let shaped = self.r.shape(script, bold, run.text);
                    Laid {
                        text: run.text,
                        width: shaped.width,
                        shaped: Some((script, shaped)),
                    }
                }
            })
            .collect()
    }

    /// `text` cut with an ellipsis so that it fits `max_w`; identity values
    /// and labels can be arbitrarily long and must not run into the next column.
    fn fit<'t>(&self, style: Style, text: &'t str, max_w: f32) -> Cow<'t, str> {
        if self.width(style, text) <= max_w {
            return Cow::Borrowed(text);
        }
        let budget = max_w - self.width(style, "…");
        if needs_shaping(text) {
            return Cow::Owned(self.fit_shaped(style, text, budget));
        }
        let mut used = 0.0;
        let mut end = 0;
        for (i, c) in text.char_indices() {
            used += self.width(style, c.encode_utf8(&mut [0; 4]));
            if used > budget {
                break;
            }
            end = i + c.len_utf8();
        }
        Cow::Owned(format!("{}…", text[..end].trim_end()))
    }

    /// The longest prefix of shaped text that fits `budget`, cut only between clusters (a
    /// conjunct or a letter with its signs is never split), with an ellipsis.
    fn fit_shaped(&self, style: Style, text: &str, budget: f32) -> String {
        let mut cuts = Vec::new();
        let mut at = 0;
        for run in self.lay_out(style.0, text) {
            match &run.shaped {
                None => cuts.extend(run.text.char_indices().map(|(i, _)| at + i)),
                Some((_, shaped)) => cuts.extend(shaped.glyphs.iter().map(|g| at + g.cluster as usize)),
            }
            at += run.text.len();
        }
        cuts.push(text.len());
        cuts.sort_unstable();
        cuts.dedup();
        // The widest prefix that fits: widths grow with the prefix, so search.
        let fits = |end: usize| self.width(style, text[..end].trim_end()) <= budget;
        let (mut lo, mut hi) = (0, cuts.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if fits(cuts[mid]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let end = if lo == 0 { 0 } else { cuts[lo - 1] };
        format!("{}…", text[..end].trim_end())
    }

    /// Greedy word wrap to `max_w`. The text is laid out once and a candidate line measured
    /// between the pen's positions at its ends: laying out each candidate again shaped every
    /// prefix of an amount in words, a shaping per word on every payslip in an Indian script
    /// (the words differ from worker to worker, so no cache helps).
    fn wrap<'t>(&self, style: Style, text: &'t str, max_w: f32) -> Vec<&'t str> {
        let pens = self.pens(style.0, text);
        // The pen where the character or cluster at `at` starts (the text's end past the last).
        let pen = |at: usize| pens[pens.partition_point(|&(start, _)| start < at).min(pens.len() - 1)].1;
        let mut lines = Vec::new();
        let mut start = 0;
        let mut last_space = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            if c != ' ' {
                continue;
            }
            if (pen(i) - pen(start)) * style.1 > max_w
                && let Some(b) = last_space.filter(|&b| b > start)
            {
                lines.push(&text[start..b]);
                start = b + 1;
            }
            last_space = Some(i);
        }
        lines.push(&text[start..]);
        lines
    }

    /// Where the pen stands, in ems, at the start of each character (or shaped cluster) of
    /// `text`, by byte offset and in order, and at the text's end.
    fn pens(&self, weight: Weight, text: &str) -> Vec<(usize, f32)> {
        let face = self.r.face(weight);
        let mut pens = Vec::with_capacity(text.len() + 1);
        let (mut at, mut pen) = (0, 0.0);
        for run in self.lay_out(weight, text) {
            match &run.shaped {
                None => {
                    for (i, c) in run.text.char_indices() {
                        pens.push((at + i, pen));
                        pen += face.width(c.encode_utf8(&mut [0; 4]));
                    }
                }
                Some((_, shaped)) => {
                    for g in &shaped.glyphs {
                        let start = at + g.cluster as usize;
                        if pens.last().is_none_or(|&(last, _)| last < start) {
                            pens.push((start, pen));
                        }
                        pen += g.advance;
                    }
                }
            }
            at += run.text.len();
        }
        pens.push((text.len(), pen));
        pens
    }

    fn text(&mut self, x: f32, y: f32, style: Style, text: &str) {
        self.text_at(x, y, style, text, Align::Left);
    }

    fn text_at(&mut self, x: f32, y: f32, style: Style, text: &str, align: Align) {
        if !needs_shaping(text) {
            self.latin(x, y, style, text, align);
            return;
        }
        let laid = self.lay_out(style.0, text);
        let width: f32 = laid.iter().map(|run| run.width).sum();
        let mut pen = match align {
            Align::Left => x,
            Align::Right => x - width * style.1,
        };
        // The whole string, Latin runs too, is one `/ActualText` span: extracting the text
        // gives the string in its logical order, whatever order the glyphs are drawn in, with
        // no gap guessed at the joins between runs.
        self.content
            .begin_marked_content_with_properties(Name(b"Span"))
            .properties()
            .actual_text(TextStr(text));
        for run in &laid {
            match &run.shaped {
                Some((script, shaped)) => self.shaped(pen, y, style, *script, run.text, shaped),
                None => self.latin(pen, y, style, run.text, Align::Left),
            }
            pen += run.width * style.1;
        }
        self.content.end_marked_content();
    }

    /// Latin text in DejaVu, a glyph per character.
    fn latin(&mut self, x: f32, y: f32, style: Style, text: &str, align: Align) {
        let Style(weight, size, color) = style;
        let (face, font_name, extras) = match weight {
            Weight::Regular => (&self.r.regular, Name(b"R"), &mut self.extras[0]),
            Weight::Bold => (&self.r.bold, Name(b"B"), &mut self.extras[1]),
        };
        let mut width = 0.0;
        let mut cids = Vec::with_capacity(2 * text.len());
        for c in text.chars() {
            let g = face.glyph(c, extras);
            width += g.advance;
            cids.extend_from_slice(&g.cid.to_be_bytes());
        }
        let x = match align {
            Align::Left => x,
            Align::Right => x - width * size,
        };
        self.set_fill(color);
        self.content
            .begin_text()
            .set_font(font_name, size)
            .set_text_matrix([1.0, 0.0, 0.0, 1.0, pt(x), pt(PAGE_H - y)])
            .show(Str(&cids))
            .end_text();
    }

    /// A shaped run at `x`: the glyphs where the shaper placed them.
    fn shaped(&mut self, x: f32, y: f32, style: Style, script: Script, text: &str, shaped: &Shaped) {
        let Style(weight, size, color) = style;
        let bold = matches!(weight, Weight::Bold);
        let face = self.r.scripts.get(script, bold);
        let k = match self.used.iter().position(|(key, _)| *key == (script, bold)) {
            Some(k) => k,
            None => {
                self.used.push(((script, bold), Used::default()));
                self.used.len() - 1
            }
        };
        let cids = self.used[k].1.cids(face, text, shaped);

        // Glyphs on the baseline go in one TJ, moved by the difference between where the
        // reader's width table leaves the pen and where the shaper put the next glyph; a mark
        // raised or lowered starts a piece of its own. A difference under `UNSEEN` is left
        // out (most are the rounding of the shaper's units against the width table's) and
        // the pen followed from where the reader puts the glyph, so they never add up.
        let mut pieces: Vec<(f32, f32, Vec<TjItem>)> = Vec::new();
        let mut cursor: Option<f32> = None;
        let mut pen = 0.0;
        for (g, cid) in shaped.glyphs.iter().zip(cids) {
            let gx = pen + g.dx;
            let placed = match (cursor, pieces.last_mut()) {
                (Some(at), Some((_, _, items))) if g.dy == 0.0 => {
                    let adjust = (at - gx) * 1000.0;
                    let placed = if adjust.abs() < UNSEEN {
                        at
                    } else {
                        items.push(TjItem::Adjust(adjust));
                        gx
                    };
                    match items.last_mut() {
                        Some(TjItem::Glyphs(glyphs)) => glyphs.extend_from_slice(&cid.to_be_bytes()),
                        _ => items.push(TjItem::Glyphs(cid.to_be_bytes().to_vec())),
                    }
                    placed
                }
                _ => {
                    pieces.push((gx, g.dy, vec![TjItem::Glyphs(cid.to_be_bytes().to_vec())]));
                    gx
                }
            };
            cursor = (g.dy == 0.0).then_some(placed + g.width);
            pen += g.advance;
        }

        self.set_fill(color);
        self.content.begin_text().set_font(Name(SCRIPT_FONT_NAMES[k]), size);
        for (at, dy, items) in pieces {
            self.content
                .set_text_matrix([1.0, 0.0, 0.0, 1.0, pt(x + at * size), pt(PAGE_H - y + dy * size)]);
            match items.as_slice() {
                [TjItem::Glyphs(glyphs)] => {
                    self.content.show(Str(glyphs));
                }
                items => {
                    let mut tj = self.content.show_positioned();
                    let mut out = tj.items();
                    for item in items {
                        match item {
                            TjItem::Glyphs(glyphs) => out.show(Str(glyphs)),
                            TjItem::Adjust(by) => out.adjust(*by),
                        };
                    }
                }
            }
        }
        self.content.end_text();
    }

    fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.set_fill(color);
        self.content.rect(x, PAGE_H - y - h, w, h).fill_nonzero();
    }

    fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.set_stroke(color);
        self.content.rect(x, PAGE_H - y - h, w, h).stroke();
    }

    fn hline(&mut self, x: f32, y: f32, w: f32, color: Rgb) {
        self.line(x, y, x + w, y, color);
    }

    fn vline(&mut self, x: f32, y: f32, h: f32, color: Rgb) {
        self.line(x, y, x, y + h, color);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, color: Rgb) {
        self.set_stroke(color);
        self.content.move_to(x1, PAGE_H - y1).line_to(x2, PAGE_H - y2).stroke();
    }

    fn set_fill(&mut self, color: Rgb) {
        if self.fill != Some(color) {
            let Rgb(r, g, b) = color;
            self.content.set_fill_rgb(unit(r), unit(g), unit(b));
            self.fill = Some(color);
        }
    }

    /// Every line and frame is drawn 0.75 pt wide.
    fn set_stroke(&mut self, color: Rgb) {
        if self.stroke.is_none() {
            self.content.set_line_width(0.75);
        }
        if self.stroke != Some(color) {
            let Rgb(r, g, b) = color;
            self.content.set_stroke_rgb(unit(r), unit(g), unit(b));
            self.stroke = Some(color);
        }
    }
}

/// "October 2026" from "2026-10", for the English beneath a bilingual header.
fn english_period(period: &str) -> Option<String> {
    let (year, month) = period.split_once('-')?;
    Some(
        Language::En
            .catalogue()
            .month_year(year.parse().ok()?, month.parse().ok()?),
    )
}

/// A run of one script as it is drawn: its text, the shaped glyphs of a script run (none for
/// Latin), and its width in ems.
struct Laid<'t> {
    text: &'t str,
    shaped: Option<(Script, Arc<Shaped>)>,
    width: f32,
}

/// One element of a TJ array: glyphs (their CIDs, two bytes each), or a move of the pen in
/// 1/1000 em (positive: left).
enum TjItem {
    Glyphs(Vec<u8>),
    Adjust(f32),
}

/// The palette as 8-bit RGB, the way designers give colours.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Rgb(u8, u8, u8);

/// A channel from 0 to 1 in thousandths (`0.129`, not `0.12941177`): the same 8-bit colour
/// again (a thousandth is a quarter of a step), in a third of the bytes.
fn unit(channel: u8) -> f32 {
    (f32::from(channel) / 255.0 * 1000.0).round() / 1000.0
}

/// A position on the page in hundredths of a point (`57.96`, not `57.9555`): a hundredth is
/// 0.004 mm, and the content stream, deflated for every payslip, is the shorter.
fn pt(at: f32) -> f32 {
    (at * 100.0).round() / 100.0
}

/// A pen move within a TJ smaller than this, in 1/1000 em, is not written: 0.005 pt at 10 pt.
const UNSEEN: f32 = 0.5;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test fails by panicking, with the message.

    use super::*;

    fn canvas(renderer: &PdfRenderer, language: Language) -> Canvas<'_> {
        Canvas {
            content: Content::new(),
            r: renderer,
            extras: [Extras::default(), Extras::default()],
            used: Vec::new(),
            language,
            words: language.catalogue(),
            english: None,
            fill: None,
            stroke: None,
        }
    }

    /// Lines measured from one layout of the whole text break where measuring each line on
    /// its own says they should: every line fits (or is a single word), and its next word would
    /// not have fitted.
    #[test]
    fn wrapped_lines_fit_and_the_next_word_would_not() {
        let renderer = PdfRenderer::new().unwrap();
        let amounts = ["0.05", "7.50", "18234.75", "987654.32", "12345678.99", "-40210.10"];
        let mut wrapped = 0;
        for language in Language::ALL {
            let canvas = canvas(&renderer, language);
            for amount in amounts {
                let text = format!(
                    "{}: {}",
                    canvas.words.in_words,
                    amount_in_words_in(language, amount.parse().unwrap())
                );
                for max_w in [90.0, 160.0, 300.0] {
                    let lines = canvas.wrap(BODY, &text, max_w);
                    assert_eq!(lines.join(" "), text, "{language:?} {amount} at {max_w}");
                    wrapped += usize::from(lines.len() > 1);
                    for (i, line) in lines.iter().enumerate() {
                        let width = canvas.width(BODY, line);
                        assert!(
                            width <= max_w + 0.01 || !line.contains(' '),
                            "{language:?} {amount} at {max_w}: `{line}` is {width}"
                        );
                        if let Some(next) = lines.get(i + 1) {
                            let word = next.split(' ').next().unwrap();
                            let longer = format!("{line} {word}");
                            assert!(
                                canvas.width(BODY, &longer) > max_w - 0.01,
                                "{language:?} {amount} at {max_w}: `{longer}` would have fitted"
                            );
                        }
                    }
                }
            }
        }
        assert!(wrapped > 100, "only {wrapped} texts took more than one line");
    }
}
