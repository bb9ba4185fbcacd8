//! DejaVu Sans prepared for embedding, once per batch.
//!
//! Every payslip embeds the same subset (printable ASCII plus the rupee sign
//! and a little punctuation), so it is subset, stripped of hinting and
//! compressed once in [`Face::new`] and copied into each PDF as finished
//! bytes. A payslip that uses a character outside that set gets a subset of
//! its own (base set plus its extra characters) on the slow path; base
//! characters keep their glyph numbers (CIDs) either way.

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use flate2::Compression;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Filter, Finish, Name, Rect, Ref, Str};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::raw::TableProvider;
use skrifa::{FontRef, GlyphId, MetadataProvider, Tag};
use subsetter::GlyphRemapper;

use crate::Error;
use crate::deflate::{Wrapping, deflate};

/// Characters every payslip can use without a per-payslip font subset.
const BASE_EXTRA: [char; 11] = ['₹', '–', '—', '…', '‘', '’', '“', '”', '•', '·', '\u{a0}'];

/// The glyph for a character as the page content uses it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Glyph {
    /// Glyph number in the embedded subset (the CID, written as 2 bytes).
    pub cid: u16,
    /// Advance width in ems.
    pub advance: f32,
}

/// One face: metrics for layout and the base subset ready to embed.
pub(crate) struct Face {
    data: &'static [u8],
    ps_name: &'static str,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    ascii: [Option<Glyph>; 128],
    /// Base-set glyphs for characters past ASCII, sorted by char.
    others: Vec<(char, Glyph)>,
    base: GlyphRemapper,
    base_chars: Vec<(u16, String)>,
    program: Program,
    descriptor: Descriptor,
}

/// A font subset as it goes into a PDF: compressed font file and ToUnicode
/// map, and glyph widths by CID in the PDF's 1/1000 em.
#[derive(Clone)]
pub(crate) struct Program {
    base_font: String,
    font_file: Vec<u8>,
    to_unicode: Vec<u8>,
    widths: Vec<f32>,
    /// Its objects as first written, and where: a subset shared by a batch's payslips is
    /// copied into each at the same refs, not written again (a width per glyph formatted as a
    /// number, the file and map copied twice).
    written: OnceLock<(Ref, Chunk)>,
}

/// Face-wide numbers for the PDF font descriptor, in 1/1000 em.
pub(crate) struct Descriptor {
    bbox: Rect,
    ascent: f32,
    descent: f32,
    cap_height: f32,
    stem_v: f32,
}

impl Descriptor {
    pub(crate) fn of(font: &FontRef) -> Descriptor {
        let face_metrics = font.metrics(Size::new(1000.0), LocationRef::default());
        let bounds = face_metrics.bounds.unwrap_or_default();
        let weight = font.attributes().weight.value();
        Descriptor {
            bbox: Rect::new(bounds.x_min, bounds.y_min, bounds.x_max, bounds.y_max),
            ascent: face_metrics.ascent,
            descent: face_metrics.descent,
            cap_height: face_metrics.cap_height.unwrap_or(face_metrics.ascent),
            // The usual estimate from the weight class; PDF readers use it
            // only when they must substitute the font.
            stem_v: 10.0 + 0.244 * (weight - 50.0),
        }
    }
}

/// Characters of one payslip outside the base set, in first-use order.
#[derive(Default)]
pub(crate) struct Extras {
    glyphs: Vec<(GlyphId, char)>,
}

impl Face {
    pub(crate) fn new(data: &'static [u8], ps_name: &'static str) -> Result<Self, Error> {
        let font = FontRef::new(data).map_err(|e| Error::Font(format!("{ps_name}: {e}")))?;
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::new(1.0), LocationRef::default());
        let descriptor = Descriptor::of(&font);

        let mut base = GlyphRemapper::new();
        let mut base_chars = Vec::new();
        let mut glyph_of = Vec::new();
        for c in (' '..='~').chain(BASE_EXTRA) {
            let gid = charmap.map(c).unwrap_or_default();
            let cid = base.remap(gid.to_u32() as u16);
            if !base_chars.iter().any(|(known, _)| *known == cid) {
                base_chars.push((cid, c.to_string()));
            }
            let advance = metrics.advance_width(gid).unwrap_or(0.0);
            glyph_of.push((c, Glyph { cid, advance }));
        }
        let mut ascii = [None; 128];
        let mut others = Vec::new();
        for (c, g) in glyph_of {
            match ascii.get_mut(c as usize) {
                Some(slot) => *slot = Some(g),
                None => others.push((c, g)),
            }
        }
        others.sort_by_key(|&(c, _)| c);

        let program = build_program(data, ps_name, &metrics, &base, &base_chars, Compression::best())?;
        Ok(Face {
            data,
            ps_name,
            charmap,
            metrics,
            ascii,
            others,
            base,
            base_chars,
            program,
            descriptor,
        })
    }

    /// The glyph for `c`; characters outside the base set are recorded in
    /// `extras` and numbered after it. A character the font lacks maps to
    /// the font's "missing" box.
    pub(crate) fn glyph(&self, c: char, extras: &mut Extras) -> Glyph {
        if let Some(g) = self.base_glyph(c) {
            return g;
        }
        let gid = self.charmap.map(c).unwrap_or_default();
        let advance = self.metrics.advance_width(gid).unwrap_or(0.0);
        let known = self.base.get(gid.to_u32() as u16);
        let cid = known.unwrap_or_else(|| {
            let index = match extras.glyphs.iter().position(|&(g, _)| g == gid) {
                Some(i) => i,
                None => {
                    extras.glyphs.push((gid, c));
                    extras.glyphs.len() - 1
                }
            };
            self.base.num_gids() + index as u16
        });
        Glyph { cid, advance }
    }

    /// Width in ems of `text`, for layout (no kerning: payslip text is short
    /// and tabular, and widths must match what the page shows).
    pub(crate) fn width(&self, text: &str) -> f32 {
        text.chars()
            .map(|c| match self.base_glyph(c) {
                Some(g) => g.advance,
                None => {
                    let gid = self.charmap.map(c).unwrap_or_default();
                    self.metrics.advance_width(gid).unwrap_or(0.0)
                }
            })
            .sum()
    }

    fn base_glyph(&self, c: char) -> Option<Glyph> {
        match self.ascii.get(c as usize) {
            Some(g) => *g,
            None => self
                .others
                .binary_search_by_key(&c, |&(k, _)| k)
                .ok()
                .map(|i| self.others[i].1),
        }
    }

    /// The program to embed: the prepared base subset, or one built now
    /// when the payslip used characters outside it.
    pub(crate) fn program(&self, extras: &Extras) -> Result<Cow<'_, Program>, Error> {
        if extras.glyphs.is_empty() {
            return Ok(Cow::Borrowed(&self.program));
        }
        let mut remapper = self.base.clone();
        let mut chars = self.base_chars.clone();
        for &(gid, c) in &extras.glyphs {
            chars.push((remapper.remap(gid.to_u32() as u16), c.to_string()));
        }
        let program = build_program(
            self.data,
            self.ps_name,
            &self.metrics,
            &remapper,
            &chars,
            Compression::default(),
        )?;
        Ok(Cow::Owned(program))
    }

    pub(crate) fn write(&self, pdf: &mut Chunk, font_ref: Ref, program: &Program) {
        write_font(pdf, font_ref, program, &self.descriptor);
    }
}

/// Writes the Type0 font at `font_ref` and its descendant objects, which take the four refs
/// after it.
pub(crate) fn write_font(pdf: &mut Chunk, font_ref: Ref, program: &Program, d: &Descriptor) {
    let (at, written) = program.written.get_or_init(|| {
        let mut chunk = Chunk::with_capacity(program.font_file.len() + program.to_unicode.len() + 8 * 1024);
        write_objects(&mut chunk, font_ref, program, d);
        (font_ref, chunk)
    });
    if *at == font_ref {
        pdf.extend(written);
    } else {
        write_objects(pdf, font_ref, program, d);
    }
}

/// Bytes a font's objects take in a PDF, about: for sizing the PDF's buffer.
pub(crate) fn written_len(program: &Program) -> usize {
    program.written.get().map_or_else(
        || program.font_file.len() + program.to_unicode.len() + 8 * program.widths.len() + 1024,
        |(_, chunk)| chunk.len(),
    )
}

fn write_objects(pdf: &mut Chunk, font_ref: Ref, program: &Program, d: &Descriptor) {
    let cid_ref = Ref::new(font_ref.get() + 1);
    let descriptor_ref = Ref::new(font_ref.get() + 2);
    let file_ref = Ref::new(font_ref.get() + 3);
    let cmap_ref = Ref::new(font_ref.get() + 4);
    let base_font = Name(program.base_font.as_bytes());

    pdf.type0_font(font_ref)
        .base_font(base_font)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_ref)
        .to_unicode(cmap_ref);

    let mut cid = pdf.cid_font(cid_ref);
    cid.subtype(CidFontType::Type2)
        .base_font(base_font)
        .system_info(SYSTEM_INFO)
        .font_descriptor(descriptor_ref)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid.widths().consecutive(0, program.widths.iter().copied());
    cid.finish();

    pdf.font_descriptor(descriptor_ref)
        .name(base_font)
        .flags(FontFlags::SYMBOLIC)
        .bbox(d.bbox)
        .italic_angle(0.0)
        .ascent(d.ascent)
        .descent(d.descent)
        .cap_height(d.cap_height)
        .stem_v(d.stem_v)
        .font_file2(file_ref);

    pdf.stream(file_ref, &program.font_file).filter(Filter::FlateDecode);
    pdf.stream(cmap_ref, &program.to_unicode).filter(Filter::FlateDecode);
}

/// Objects one face adds to a PDF (Type0, CIDFont, descriptor, file, ToUnicode).
pub(crate) const OBJECTS_PER_FACE: i32 = 5;

const SYSTEM_INFO: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

/// The subset of `remapper`'s glyphs, without hinting, with a ToUnicode map from each glyph
/// number to the text it stands for.
pub(crate) fn build_program(
    data: &[u8],
    ps_name: &str,
    metrics: &GlyphMetrics,
    remapper: &GlyphRemapper,
    chars: &[(u16, String)],
    level: Compression,
) -> Result<Program, Error> {
    let subset = subsetter::subset(data, 0, remapper)
        .map_err(|e| Error::Font(format!("{ps_name}: subsetting failed: {e:?}")))?;
    let stripped = strip_hinting(&subset).ok_or_else(|| Error::Font(format!("{ps_name}: unreadable subset")))?;

    let widths = remapper
        .remapped_gids()
        .map(|gid| metrics.advance_width(GlyphId::new(gid.into())).unwrap_or(0.0) * 1000.0)
        .collect();

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), SYSTEM_INFO);
    for (cid, text) in chars {
        cmap.pair_with_multiple(*cid, text.chars());
    }

    // The subset tag names this exact subset, so readers do not confuse two
    // different subsets of the same face.
    let mut h = DefaultHasher::new();
    (ps_name, chars).hash(&mut h);
    let mut hash = Hasher::finish(&h);
    let tag: String = (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (hash % 26) as u8);
            hash /= 26;
            letter
        })
        .collect();

    Ok(Program {
        base_font: format!("{tag}+{ps_name}"),
        font_file: deflate(&stripped, level, Wrapping::Zlib)?,
        to_unicode: deflate(&cmap.finish(), level, Wrapping::Zlib)?,
        widths,
        written: OnceLock::new(),
    })
}

/// The subset without TrueType hinting (glyph instructions and the cvt,
/// fpgm, prep tables) or the name table. DejaVu's hinting is over half its
/// glyph data and its name table is mostly the licence text; PDF viewers
/// rasterise without either, and dropping them halves every payslip.
fn strip_hinting(ttf: &[u8]) -> Option<Vec<u8>> {
    let font = FontRef::new(ttf).ok()?;
    let head = font.head().ok()?;
    let long_loca = head.index_to_loc_format() == 1;
    let loca = font.table_data(Tag::new(b"loca"))?;
    let glyf = font.table_data(Tag::new(b"glyf"))?;
    let loca = skrifa::raw::tables::loca::Loca::read(loca, long_loca).ok()?;

    let mut new_glyf = Vec::with_capacity(glyf.len());
    let mut new_loca = Vec::with_capacity(loca.len() * 4);
    // `len` counts glyphs; the table has one more offset, the end of the last.
    for i in 0..loca.len() {
        new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
        let start = loca.get_raw(i)? as usize;
        let end = loca.get_raw(i + 1)? as usize;
        let glyph = glyf.as_bytes().get(start..end)?;
        if !glyph.is_empty() {
            strip_glyph(glyph, &mut new_glyf)?;
            while new_glyf.len() % 4 != 0 {
                new_glyf.push(0);
            }
        }
    }
    new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());

    let mut head = font.table_data(Tag::new(b"head"))?.as_bytes().to_vec();
    // indexToLocFormat: we always write 32-bit offsets.
    head.get_mut(50..52)?.copy_from_slice(&1u16.to_be_bytes());
    head.get_mut(8..12)?.fill(0);

    let mut tables: Vec<(Tag, Cow<[u8]>)> = Vec::new();
    for record in font.table_directory.table_records() {
        let tag = record.tag();
        let data: Cow<[u8]> = match &tag.to_be_bytes() {
            b"cvt " | b"fpgm" | b"prep" | b"name" => continue,
            b"glyf" => Cow::Owned(std::mem::take(&mut new_glyf)),
            b"loca" => Cow::Owned(std::mem::take(&mut new_loca)),
            b"head" => Cow::Owned(std::mem::take(&mut head)),
            _ => Cow::Borrowed(font.table_data(tag)?.as_bytes()),
        };
        tables.push((tag, data));
    }
    Some(write_sfnt(&mut tables))
}

/// Copies one glyph without its instructions (or the source's padding).
fn strip_glyph(glyph: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let word = |at: usize| glyph.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let contours = word(0)? as i16;
    if contours >= 0 {
        // header (10), end points (2 each), instruction length, instructions,
        // then flags and coordinates, whose length the flags determine.
        let len_at = 10 + 2 * contours as usize;
        let points = if contours == 0 {
            0
        } else {
            usize::from(word(len_at - 2)?) + 1
        };
        let flags_at = len_at + 2 + usize::from(word(len_at)?);
        let end = simple_glyph_end(glyph, flags_at, points)?;
        out.extend_from_slice(glyph.get(..len_at)?);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(glyph.get(flags_at..end)?);
        return Some(());
    }
    // Composite: component records, then instructions if flagged; drop those
    // and clear the flag.
    const ARGS_ARE_WORDS: u16 = 0x0001;
    const HAVE_SCALE: u16 = 0x0008;
    const MORE_COMPONENTS: u16 = 0x0020;
    const HAVE_XY_SCALE: u16 = 0x0040;
    const HAVE_TWO_BY_TWO: u16 = 0x0080;
    const HAVE_INSTRUCTIONS: u16 = 0x0100;
    out.extend_from_slice(glyph.get(..10)?);
    let mut at = 10;
    loop {
        let flags = word(at)?;
        let mut len = 4 + if flags & ARGS_ARE_WORDS != 0 { 4 } else { 2 };
        if flags & HAVE_SCALE != 0 {
            len += 2;
        } else if flags & HAVE_XY_SCALE != 0 {
            len += 4;
        } else if flags & HAVE_TWO_BY_TWO != 0 {
            len += 8;
        }
        let component_at = out.len();
        out.extend_from_slice(glyph.get(at..at + len)?);
        out[component_at..component_at + 2].copy_from_slice(&(flags & !HAVE_INSTRUCTIONS).to_be_bytes());
        at += len;
        if flags & MORE_COMPONENTS == 0 {
            break;
        }
    }
    Some(())
}

/// End of a simple glyph's data: `points` flags (with repeats), then x and
/// y coordinates of one or two bytes each as the flags say.
fn simple_glyph_end(glyph: &[u8], flags_at: usize, points: usize) -> Option<usize> {
    const X_SHORT: u8 = 0x02;
    const Y_SHORT: u8 = 0x04;
    const REPEAT: u8 = 0x08;
    const X_SAME_OR_POSITIVE: u8 = 0x10;
    const Y_SAME_OR_POSITIVE: u8 = 0x20;
    let coordinate_len = |flag: u8, short: u8, same: u8| match (flag & short != 0, flag & same != 0) {
        (true, _) => 1,
        (false, true) => 0,
        (false, false) => 2,
    };
    let mut at = flags_at;
    let mut seen = 0;
    let mut coordinates = 0;
    while seen < points {
        let flag = *glyph.get(at)?;
        at += 1;
        let mut count = 1;
        if flag & REPEAT != 0 {
            count += usize::from(*glyph.get(at)?);
            at += 1;
        }
        let per_point =
            coordinate_len(flag, X_SHORT, X_SAME_OR_POSITIVE) + coordinate_len(flag, Y_SHORT, Y_SAME_OR_POSITIVE);
        coordinates += count * per_point;
        seen += count;
    }
    let end = at + coordinates;
    (end <= glyph.len()).then_some(end)
}

/// An sfnt (TrueType) file from its tables, with the checksums readers
/// that validate fonts expect.
fn write_sfnt(tables: &mut [(Tag, Cow<[u8]>)]) -> Vec<u8> {
    tables.sort_by_key(|(tag, _)| *tag);
    let n = tables.len() as u16;
    let entry_selector = 15 - n.leading_zeros() as u16;
    let search_range = (1u16 << entry_selector) * 16;
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for v in [n, search_range, entry_selector, n * 16 - search_range] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, data) in tables.iter() {
        if tag == &Tag::new(b"head") {
            head_at = Some(offset);
        }
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, data) in tables.iter() {
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    // head.checkSumAdjustment makes the whole file sum to a magic number; it
    // is computed with the field itself zeroed, as it came from the subsetter.
    if let Some(at) = head_at {
        let adjustment = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out[at + 8..at + 12].copy_from_slice(&adjustment.to_be_bytes());
    }
    out
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

#[cfg(test)]
mod tests {
    use skrifa::raw::tables::glyf::Glyph as Outline;

    use super::*;

    fn outlines(ttf: &[u8]) -> Vec<Option<Outline<'_>>> {
        let font = FontRef::new(ttf).unwrap();
        let (glyf, loca) = (font.glyf().unwrap(), font.loca(None).unwrap());
        let n = font.maxp().unwrap().num_glyphs();
        (0..n)
            .map(|g| loca.get_glyf(GlyphId::new(g.into()), &glyf).unwrap())
            .collect()
    }

    #[test]
    fn stripping_hinting_keeps_every_outline() {
        for data in [dejavu::sans::regular(), dejavu::sans::bold()] {
            let face = Face::new(data, "test").unwrap();
            let subset = subsetter::subset(data, 0, &face.base).unwrap();
            let stripped = strip_hinting(&subset).unwrap();
            let table = |ttf: &[u8], tag: &[u8; 4]| FontRef::new(ttf).unwrap().table_data(Tag::new(tag)).is_some();
            for tag in [b"cvt ", b"fpgm", b"prep", b"name"] {
                assert!(table(&subset, tag) && !table(&stripped, tag));
            }
            let (before, after) = (outlines(&subset), outlines(&stripped));
            assert_eq!(before.len(), after.len());
            assert!(before.len() > 100);
            for (b, a) in before.iter().zip(&after) {
                match (b, a) {
                    (Some(Outline::Simple(b)), Some(Outline::Simple(a))) => {
                        assert!(a.instructions().is_empty());
                        assert!(b.points().eq(a.points()));
                        assert_eq!(b.end_pts_of_contours(), a.end_pts_of_contours());
                    }
                    (None, None) => {}
                    _ => panic!("glyph kind changed"),
                }
            }
        }
    }

    #[test]
    fn extra_characters_are_numbered_after_the_base_set() {
        let face = Face::new(dejavu::sans::regular(), "DejaVuSans").unwrap();
        let mut extras = Extras::default();
        let a = face.glyph('A', &mut extras);
        let e = face.glyph('ë', &mut extras);
        let again = face.glyph('ë', &mut extras);
        assert_eq!(e, again);
        assert_eq!(e.cid, face.base.num_gids());
        assert!(a.cid < face.base.num_gids());
        let program = face.program(&extras).unwrap();
        assert_eq!(program.widths.len(), usize::from(face.base.num_gids()) + 1);
        assert_eq!(
            program.widths[usize::from(a.cid)],
            face.program.widths[usize::from(a.cid)]
        );
    }
}
