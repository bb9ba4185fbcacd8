//! Event files, one JSON event a line. The ledger is split by worker over the cores; each wave
//! of the file is decoded on every core in contiguous chunks, then each part of the ledger folds
//! its own workers' events on a core of its own, so no lock is shared, while the next wave is
//! decoded. Dead letters come out in file order with their lines, and the state is the same
//! whatever the number of cores: a worker's events all go to one part, and folding is
//! order-free.

use memchr::memchr_iter;
use payroll_engine::event::{PunchRef, decode_punch_ref};
use payroll_engine::parallel::map_in_order;
use payroll_engine::{Event, Feed, Invalid, Ledger, StatePart};

use crate::dead_letter::{DeadLetters, Position};
use crate::progress::Progress;

/// A ledger whose worker states are split over the cores: every core reads the master, each
/// folds into its own part.
pub(crate) struct Parts {
    ledger: Ledger,
    states: Vec<StatePart>,
}

impl Parts {
    pub(crate) fn split(mut ledger: Ledger, parts: usize) -> Result<Parts, Invalid> {
        let states = ledger.take_states(parts.max(1))?;
        Ok(Parts { ledger, states })
    }

    pub(crate) fn merge(self) -> Ledger {
        let Parts { mut ledger, states } = self;
        ledger.put_states(states);
        ledger
    }
}

/// An event as decoded from a line (a punch still borrowing the file's bytes), with where its
/// line is: its worker is checked where it is folded ([`StatePart::apply_punch`],
/// [`StatePart::apply`]).
struct Decoded<'a> {
    event: DecodedEvent<'a>,
    /// Its worker's [`StatePart::hash`].
    hash: u64,
    at: Where,
    line: &'a [u8],
}

enum DecodedEvent<'a> {
    Punch(PunchRef<'a>),
    Other(Event),
}

impl DecodedEvent<'_> {
    fn worker_id(&self) -> &str {
        match self {
            DecodedEvent::Punch(punch) => &punch.worker_id,
            DecodedEvent::Other(e) => e.worker_id(),
        }
    }
}

/// Where a line of a wave is: its chunk, and its index among the chunk's lines. Refusals found
/// decoding and folding are put in this order, the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Where {
    chunk: usize,
    index: usize,
}

/// A refused line: where it is, why, the line, and the org of the worker it names.
type Refused = (Where, Invalid, String, Option<String>);

/// A chunk's outcome: its lines, decoded events by the part of the ledger that folds them, and
/// refusals.
struct Chunk<'a> {
    lines: u64,
    events: Vec<Vec<Decoded<'a>>>,
    refused: Vec<Refused>,
}

/// Fewer bytes than a valid line of any feed takes (the names of the fields it must have and a
/// timestamp are more). A shorter line is refused, or makes a vector grow.
const SHORTEST_EVENT: usize = 64;

/// At most this much of a file is decoded at once: its events are folded and its pages given
/// back (`release`) while the next wave is decoded, so memory holds two waves' events, never a
/// file's.
const WAVE: usize = 64 << 20;

/// The memory a file's bytes are in, as folding goes through it a wave at a time.
pub(crate) trait Pages {
    /// `range` is about to be read.
    fn load(&self, range: std::ops::Range<usize>);
    /// `range` is read.
    fn release(&self, range: std::ops::Range<usize>);
}

/// Bytes already in memory.
impl Pages for () {
    fn load(&self, _: std::ops::Range<usize>) {}
    fn release(&self, _: std::ops::Range<usize>) {}
}

/// Decodes and folds every event of `bytes`, and hashes them into `digest`; returns how many
/// were folded. A wave is decoded while the one before is folded: each step waited for the
/// other at every wave, and the cores stood idle an eighth of the time as the last chunk or
/// part of a step finished. A wave is hashed while it is folded, its pages still mapped: hashed
/// in a pass of its own, a month's attendance was mapped in twice, and its 7 GB kept the
/// events waiting a second.
#[allow(
    clippy::too_many_arguments,
    reason = "the file, where it folds to, and what watches it"
)]
pub(crate) fn fold<'b>(
    feed: Feed,
    source: &str,
    bytes: &'b [u8],
    parts: &mut Parts,
    dead_letters: &mut DeadLetters,
    progress: &dyn Progress,
    pages: &(dyn Pages + Sync),
    digest: &mut blake3::Hasher,
) -> u64 {
    let Parts { ledger, states } = parts;
    let (ledger, cores) = (&*ledger, states.len());
    let mut first_line = 1;
    let mut folded = 0;
    let mut offset = 0;
    let mut waves = split_at_lines(bytes, bytes.len().div_ceil(WAVE)).map(|wave| {
        let range = offset..offset + wave.len();
        offset = range.end;
        (range, wave)
    });
    let decode_wave = |(range, wave): (std::ops::Range<usize>, &'b [u8])| {
        pages.load(range.clone());
        let chunks = map_in_order(split_at_lines(wave, cores * 4).enumerate(), |(number, chunk)| {
            let decoded = decode(feed, number, chunk, ledger, cores);
            progress.advance(chunk.len() as u64);
            decoded
        });
        (range, chunks)
    };
    std::thread::scope(|scope| {
        let mut next = waves.next().map(decode_wave);
        while let Some((range, chunks)) = next.take() {
            let ahead = waves.next().map(|wave| scope.spawn(move || decode_wave(wave)));
            let (wave, mut hasher) = (&bytes[range.clone()], std::mem::take(digest));
            let hashing = scope.spawn(move || {
                hasher.update(wave);
                hasher
            });
            let mut first_lines = Vec::with_capacity(chunks.len());
            let mut refused = Vec::new();
            let mut by_part: Vec<Vec<Vec<Decoded>>> = (0..cores).map(|_| Vec::with_capacity(chunks.len())).collect();
            for chunk in chunks {
                first_lines.push(first_line);
                first_line += chunk.lines;
                refused.extend(chunk.refused);
                for (part, events) in by_part.iter_mut().zip(chunk.events) {
                    part.push(events);
                }
            }
            let folds = map_in_order(states.iter_mut().zip(by_part), |(part, batches)| {
                let mut folded = 0u64;
                let mut refused: Vec<Refused> = Vec::new();
                for Decoded { event, hash, at, line } in batches.into_iter().flatten() {
                    let unknown = match event {
                        DecodedEvent::Punch(punch) => {
                            (!part.apply_punch(hash, &punch)).then(|| Invalid::unknown_worker(&punch.worker_id))
                        }
                        DecodedEvent::Other(event) => {
                            part.apply(event).err().map(|e| Invalid::unknown_worker(e.worker_id()))
                        }
                    };
                    match unknown {
                        // No worker of the master: so no org to show it to.
                        Some(invalid) => refused.push((at, invalid, String::from_utf8_lossy(line).into_owned(), None)),
                        None => folded += 1,
                    }
                }
                (folded, refused)
            });
            for (count, unknown) in folds {
                folded += count;
                refused.extend(unknown);
            }
            refused.sort_unstable_by_key(|(at, ..)| *at);
            for (at, invalid, original, org_id) in refused {
                dead_letters.push(
                    source,
                    Position::Line(first_lines[at.chunk] + at.index as u64),
                    invalid,
                    &original,
                    org_id.as_deref(),
                );
            }
            *digest = hashing.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            pages.release(range);
            next = ahead.map(|decoding| decoding.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
    });
    folded
}

/// Decodes the lines of chunk `number` of a wave. An adjustment's org is checked against the
/// master here; every event's worker, where it is folded.
fn decode<'a>(feed: Feed, number: usize, chunk: &'a [u8], ledger: &Ledger, parts: usize) -> Chunk<'a> {
    // Each part's vector sized once, for as many lines as the chunk could hold (a fair hash
    // gives each part about its share): grown by doubling, each copy went to fresh memory the
    // kernel clears first. Room never written to is never given pages, so erring high costs
    // nothing; counting the lines first was a pass over every byte.
    let share = chunk.len() / SHORTEST_EVENT / parts;
    let mut out = Chunk {
        lines: 0,
        events: (0..parts).map(|_| Vec::with_capacity(share + share / 8 + 16)).collect(),
        refused: Vec::new(),
    };
    for (index, line) in lines(chunk).enumerate() {
        out.lines += 1;
        let Some(line) = event_text(line) else {
            continue;
        };
        let at = Where { chunk: number, index };
        let decoded = match feed {
            Feed::Attendance => decode_punch_ref(line).map(DecodedEvent::Punch),
            _ => feed.decode(line).and_then(|other| {
                ledger.check_org(&other)?;
                Ok(DecodedEvent::Other(other))
            }),
        };
        match decoded {
            Ok(event) => {
                let hash = StatePart::hash(event.worker_id());
                out.events[StatePart::part_of(hash, parts)].push(Decoded { event, hash, at, line });
            }
            Err(invalid) => out.refused.push((
                at,
                invalid,
                String::from_utf8_lossy(line).into_owned(),
                org_of(line, ledger),
            )),
        }
    }
    out
}

/// The org of the worker a refused line names, when it is JSON naming a worker of the master.
fn org_of(line: &[u8], ledger: &Ledger) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(borrow)]
        worker_id: std::borrow::Cow<'a, str>,
    }
    let named: Named = serde_json::from_slice(line).ok()?;
    ledger.worker(&named.worker_id).map(|worker| worker.org_id.to_string())
}

/// The lines of an event file, without their `\n`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let ends = memchr_iter(b'\n', bytes).chain((!bytes.ends_with(b"\n") && !bytes.is_empty()).then_some(bytes.len()));
    ends.map(move |end| {
        let line = &bytes[start..end];
        start = end + 1;
        line
    })
}

/// A line's event: without a Windows `\r` end; `None` for a blank line.
pub(crate) fn event_text(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
}

/// About `parts` chunks of whole lines.
fn split_at_lines(bytes: &[u8], parts: usize) -> impl Iterator<Item = &[u8]> {
    let target = bytes.len().div_ceil(parts.max(1)).max(1);
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = match rest.get(target..).and_then(|tail| memchr::memchr(b'\n', tail)) {
            Some(i) => target + i + 1,
            None => rest.len(),
        };
        let (chunk, tail) = rest.split_at(cut);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use payroll_engine::WorkerState;

    use super::*;
    use crate::dead_letter::DeadLetter;
    use crate::progress::Quiet;

    /// The sample month's event files folded over `parts` cores: events folded, every worker's
    /// state, and the dead letters in the order they came.
    fn fold_sample(parts: usize) -> (u64, BTreeMap<String, Option<WorkerState>>, Vec<DeadLetter>) {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample");
        let mut dead_letters = DeadLetters::default();
        let mut ledger = Ledger::new(super::super::read_sites(&sample.join("sites.csv")).unwrap());
        let workers = std::fs::read(sample.join("workers.csv")).unwrap();
        super::super::fold_workers(&sample.join("workers.csv"), &workers, &mut ledger, &mut dead_letters).unwrap();
        let mut parts = Parts::split(ledger, parts).unwrap();
        let mut folded = 0;
        for feed in Feed::ALL {
            let text = std::fs::read_to_string(sample.join(feed.file_name())).unwrap();
            let mut lines: Vec<Vec<u8>> = text.lines().map(|line| line.as_bytes().to_vec()).collect();
            // Refused lines at the start, in the middle and at the end, and a blank one. The
            // middle one is a valid event of the feed whose worker the master does not have.
            let named: serde_json::Value = serde_json::from_slice(&lines[0]).unwrap();
            let worker = format!(r#""worker_id": "{}""#, named["worker_id"].as_str().unwrap());
            let unknown = String::from_utf8(lines[0].clone())
                .unwrap()
                .replace(&worker, r#""worker_id": "NOBODY""#)
                .into_bytes();
            assert_ne!(unknown, lines[0], "{}: the worker is renamed", feed.name());
            lines.insert(0, br#"{"event_id": "e1""#.to_vec());
            lines.insert(lines.len() / 2, unknown.clone());
            lines.insert(lines.len() / 2, Vec::new());
            lines.push(b"not json".to_vec());
            let bytes = lines.join(&b'\n');
            let mut digest = blake3::Hasher::new();
            folded += fold(
                feed,
                feed.name(),
                &bytes,
                &mut parts,
                &mut dead_letters,
                &Quiet,
                &(),
                &mut digest,
            );
            assert_eq!(
                digest.finalize(),
                blake3::hash(&bytes),
                "{}: the file is hashed whole",
                feed.name()
            );
            // In the file's order, each with its own line, whichever step refused it.
            let refused: Vec<(u64, String)> = dead_letters
                .iter()
                .filter(|letter| letter.source == feed.name())
                .map(|letter| match letter.position {
                    Position::Line(line) => (line, letter.original.clone()),
                    Position::Row(_) => panic!("an event file's letters name lines"),
                })
                .collect();
            let unknown_reason = dead_letters
                .iter()
                .find(|letter| letter.source == feed.name() && letter.original.contains("NOBODY"))
                .map(|letter| letter.reason.clone());
            assert!(
                unknown_reason
                    .as_deref()
                    .is_some_and(|r| r.contains("unknown worker `NOBODY`")),
                "{}: {unknown_reason:?}",
                feed.name()
            );
            let expected: Vec<(u64, String)> = [&lines[0], &unknown, &lines[lines.len() - 1]]
                .into_iter()
                .map(|text| {
                    let line = lines.iter().position(|l| l == text).unwrap() as u64 + 1;
                    (line, String::from_utf8_lossy(text).into_owned())
                })
                .collect();
            assert_eq!(refused, expected, "{}", feed.name());
        }
        let ledger = parts.merge();
        let states = ledger
            .worker_ids()
            .map(|id| (id.to_string(), ledger.state(id).cloned()))
            .collect();
        (folded, states, dead_letters.iter().cloned().collect())
    }

    #[test]
    fn the_state_and_the_dead_letters_are_the_same_on_any_number_of_cores() {
        let one = fold_sample(1);
        assert!(one.0 > 4_000, "the sample's events are folded");
        assert_eq!(one.2.len(), 3 * Feed::ALL.len(), "the refused lines are dead letters");
        for parts in [2, 3, 8] {
            assert!(fold_sample(parts) == one, "{parts} parts");
        }
    }

    #[test]
    fn chunks_keep_whole_lines_and_every_byte() {
        let text = b"a\nbb\nccc\ndddd\neeeee";
        for parts in 1..8 {
            let chunks: Vec<&[u8]> = split_at_lines(text, parts).collect();
            assert_eq!(chunks.concat(), text.to_vec());
            assert!(chunks[..chunks.len() - 1].iter().all(|c| c.ends_with(b"\n")));
        }
        assert_eq!(lines(b"a\n\nb").collect::<Vec<_>>(), vec![&b"a"[..], b"", b"b"]);
    }
}
