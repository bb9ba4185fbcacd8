//! The Indian scripts' faces: shaping a run of text into positioned glyphs, and the glyphs one
//! payslip used, subset and embedded with a ToUnicode map.
//!
//! The faces are compiled in and immutable, so they are parsed once per process
//! ([`script_faces`]) with a shaping plan per face: a payslip then pays only for shaping its own
//! strings and subsetting the glyphs it drew.

use std::sync::LazyLock;

use harfrust::{Direction, FontRef, ShapeOptions, ShapePlan, ShaperData, UnicodeBuffer};
use skrifa::MetadataProvider;
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::raw::TableProvider;
use subsetter::GlyphRemapper;

use crate::Error;
use crate::font::{Descriptor, Program, build_program};
use crate::script::Script;

/// One script in one weight, ready to shape.
pub(crate) struct ScriptFace {
    data: &'static [u8],
    ps_name: &'static str,
    font: FontRef<'static>,
    shaper: ShaperData,
    plan: ShapePlan,
    script: harfrust::Script,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
    pub(crate) descriptor: Descriptor,
}

/// A glyph as the shaper placed it; lengths in ems.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ShapedGlyph {
    pub gid: u16,
    /// Byte offset in the shaped text of the cluster the glyph belongs to.
    pub cluster: u32,
    /// How far the pen moves after the glyph (kerning and marks included).
    pub advance: f32,
    /// The glyph's own advance in the font, which the PDF's width table gives a reader.
    pub width: f32,
    pub dx: f32,
    pub dy: f32,
}

/// A run of text shaped: glyphs in visual order, and the pen's travel in ems.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shaped {
    pub glyphs: Vec<ShapedGlyph>,
    pub width: f32,
}

impl ScriptFace {
    fn new(script: Script, bold: bool) -> Result<Self, Error> {
        let (data, ps_name) = script.font(bold);
        let font = FontRef::new(data).map_err(|e| Error::Font(format!("{ps_name}: {e}")))?;
        let shaper = ShaperData::new(&font);
        let tag = script.tag();
        let plan = ShapePlan::new(
            &shaper.shaper(&font).build(),
            Direction::LeftToRight,
            Some(tag),
            None,
            &[],
        );
        let units_per_em = f32::from(
            font.head()
                .map_err(|e| Error::Font(format!("{ps_name}: {e}")))?
                .units_per_em(),
        );
        Ok(ScriptFace {
            data,
            ps_name,
            charmap: font.charmap(),
            metrics: font.glyph_metrics(Size::new(1.0), LocationRef::default()),
            descriptor: Descriptor::of(&font),
            font,
            shaper,
            plan,
            script: tag,
            units_per_em,
        })
    }

    /// `text` (of this face's script) as glyphs.
    pub(crate) fn shape(&self, text: &str) -> Shaped {
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.set_direction(Direction::LeftToRight);
        buffer.set_script(self.script);
        let shaper = self.shaper.shaper(&self.font).build();
        let out = shaper.shape(buffer, ShapeOptions::new().plan(Some(&self.plan)));
        let em = |units: i32| units as f32 / self.units_per_em;
        let mut shaped = Shaped::default();
        for (info, pos) in out.glyph_infos().iter().zip(out.glyph_positions()) {
            let gid = u16::try_from(info.glyph_id).unwrap_or(0);
            let width = self
                .metrics
                .advance_width(skrifa::GlyphId::new(u32::from(gid)))
                .unwrap_or(0.0);
            shaped.glyphs.push(ShapedGlyph {
                gid,
                cluster: info.cluster,
                advance: em(pos.x_advance),
                width,
                dx: em(pos.x_offset),
                dy: em(pos.y_offset),
            });
            shaped.width += em(pos.x_advance);
        }
        shaped
    }

    /// The face's own glyph for a character, when it has one.
    fn nominal(&self, c: char) -> Option<u16> {
        self.charmap.map(c).and_then(|g| u16::try_from(g.to_u32()).ok())
    }

    /// The embedded subset of the glyphs one payslip drew in this face.
    pub(crate) fn program(&self, used: &Used) -> Result<Program, Error> {
        build_program(
            self.data,
            self.ps_name,
            &self.metrics,
            &used.remapper,
            &used.text,
            // Fast deflate: a subset is built per payslip whose glyphs no earlier one drew.
            flate2::Compression::fast(),
        )
    }
}

/// The glyphs one payslip drew in one face, numbered in first-use order, and the text each
/// stands for (the ToUnicode map).
#[derive(Default)]
pub(crate) struct Used {
    remapper: GlyphRemapper,
    text: Vec<(u16, String)>,
}

/// What makes a subset: its glyphs in CID order, and the text each stands for.
pub(crate) type SubsetKey = (Vec<u16>, Vec<(u16, String)>);

impl Used {
    /// Two payslips that drew the same glyphs, in the same order, standing for the same text,
    /// embed the same subset.
    pub(crate) fn key(&self) -> SubsetKey {
        (self.remapper.remapped_gids().collect(), self.text.clone())
    }

    /// The glyph numbers (CIDs) of `shaped`, recording what text each glyph shows: a glyph
    /// alone in its cluster stands for the cluster's text (a conjunct for its letters); in a
    /// cluster of several, a glyph stands for the one character it is the face's glyph of (a
    /// reordered vowel sign for that sign). Copying text from a viewer that ignores
    /// `/ActualText` then gives the letters, if not always in their order.
    pub(crate) fn cids(&mut self, face: &ScriptFace, text: &str, shaped: &Shaped) -> Vec<u16> {
        let glyphs = &shaped.glyphs;
        let mut cids = Vec::with_capacity(glyphs.len());
        for g in glyphs {
            let known = self.remapper.get(g.gid).is_some();
            let cid = self.remapper.remap(g.gid);
            cids.push(cid);
            if known {
                continue;
            }
            let start = g.cluster as usize;
            let end = glyphs
                .iter()
                .map(|o| o.cluster as usize)
                .filter(|&c| c > start)
                .min()
                .unwrap_or(text.len());
            let Some(cluster) = text.get(start..end) else { continue };
            let alone = glyphs.iter().filter(|o| o.cluster == g.cluster).count() == 1;
            let stands_for = if alone {
                Some(cluster.to_string())
            } else {
                cluster
                    .chars()
                    .find(|&c| face.nominal(c) == Some(g.gid))
                    .map(String::from)
            };
            if let Some(s) = stands_for {
                self.text.push((cid, s));
            }
        }
        cids
    }
}

/// Every script in both weights, regular first.
pub(crate) struct ScriptFaces(Vec<ScriptFace>);

impl ScriptFaces {
    pub(crate) fn get(&self, script: Script, bold: bool) -> &ScriptFace {
        &self.0[face_index(script, bold)]
    }
}

/// Where a face stands among every script in both weights (regular first), from 0 to
/// `FACE_COUNT - 1`.
pub(crate) fn face_index(script: Script, bold: bool) -> usize {
    let at = Script::ALL.iter().position(|s| *s == script).unwrap_or(0);
    2 * at + usize::from(bold)
}

/// The number of script faces.
pub(crate) const FACE_COUNT: usize = 2 * Script::ALL.len();

static FACES: LazyLock<Result<ScriptFaces, String>> = LazyLock::new(|| {
    let mut faces = Vec::with_capacity(2 * Script::ALL.len());
    for script in Script::ALL {
        for bold in [false, true] {
            faces.push(ScriptFace::new(script, bold).map_err(|e| e.to_string())?);
        }
    }
    Ok(ScriptFaces(faces))
});

/// The process's script faces, parsed on first use.
pub(crate) fn script_faces() -> Result<&'static ScriptFaces, Error> {
    FACES.as_ref().map_err(|e| Error::Font(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(script: Script) -> &'static ScriptFace {
        script_faces().unwrap().get(script, false)
    }

    fn nominal(script: Script, c: char) -> u16 {
        face(script).nominal(c).unwrap()
    }

    /// The shaper, not the string's order, decides the glyphs: each of these is drawn in an
    /// order or form that differs from its characters', so unshaped text fails here.
    #[test]
    fn shaping_reorders_and_joins_where_the_script_does() {
        // Hindi कि: the vowel sign ि is written before the consonant it follows.
        let shaped = face(Script::Devanagari).shape("कि");
        let gids: Vec<u16> = shaped.glyphs.iter().map(|g| g.gid).collect();
        assert_eq!(gids.len(), 2, "{gids:?}");
        assert_eq!(gids[1], nominal(Script::Devanagari, 'क'), "{gids:?}");
        assert_ne!(gids[0], nominal(Script::Devanagari, 'क'));
        assert!(shaped.glyphs.iter().all(|g| g.cluster == 0));

        // Tamil கொ: the two-part vowel sign ொ splits around the consonant: ெ before, ா after.
        let shaped = face(Script::Tamil).shape("கொ");
        let gids: Vec<u16> = shaped.glyphs.iter().map(|g| g.gid).collect();
        assert_eq!(
            gids,
            [
                nominal(Script::Tamil, '\u{0BC6}'),
                nominal(Script::Tamil, 'க'),
                nominal(Script::Tamil, '\u{0BBE}')
            ]
        );

        // Bengali ক্ষ: three characters, one conjunct glyph that is none of theirs.
        let shaped = face(Script::Bengali).shape("ক্ষ");
        assert_eq!(shaped.glyphs.len(), 1, "{:?}", shaped.glyphs);
        let g = shaped.glyphs[0].gid;
        for c in ['ক', '\u{09CD}', 'ষ'] {
            assert_ne!(g, nominal(Script::Bengali, c));
        }
    }

    #[test]
    fn every_face_has_its_scripts_letters() {
        for script in Script::ALL {
            for bold in [false, true] {
                let face = script_faces().unwrap().get(script, bold);
                let shaped = face.shape(sample(script));
                assert!(shaped.width > 0.5, "{script:?}");
                assert!(
                    shaped.glyphs.iter().all(|g| g.gid != 0),
                    "{script:?} {bold}: a missing glyph"
                );
            }
        }
    }

    fn sample(script: Script) -> &'static str {
        match script {
            Script::Devanagari => "शुद्ध वेतन",
            Script::Bengali => "নিট বেতন",
            Script::Gurmukhi => "ਸ਼ੁੱਧ ਤਨਖਾਹ",
            Script::Gujarati => "ચોખ્ખો પગાર",
            Script::Oriya => "ନିଟ୍ ଦରମା",
            Script::Tamil => "நிகர சம்பளம்",
            Script::Telugu => "నికర వేతనం",
            Script::Kannada => "ನಿವ್ವಳ ವೇತನ",
            Script::Malayalam => "അറ്റ ശമ്പളം",
        }
    }

    #[test]
    fn a_conjunct_glyph_stands_for_its_letters_and_a_split_sign_for_its_parts() {
        let mut used = Used::default();
        let bengali = face(Script::Bengali);
        let text = "ক্ষ";
        used.cids(bengali, text, &bengali.shape(text));
        assert_eq!(used.text.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["ক্ষ"]);

        // Decomposed, as some keyboards type it: each part of the split sign is a character of
        // its own, and its glyph stands for it.
        let mut used = Used::default();
        let tamil = face(Script::Tamil);
        let text = "க\u{0BC6}\u{0BBE}";
        let cids = used.cids(tamil, text, &tamil.shape(text));
        assert_eq!(cids.len(), 3);
        let mut stands: Vec<&str> = used.text.iter().map(|(_, s)| s.as_str()).collect();
        stands.sort_unstable();
        let mut parts = vec!["\u{0BC6}", "க", "\u{0BBE}"];
        parts.sort_unstable();
        assert_eq!(stands, parts);
    }
}
