//! The attested audit trail, kept compactly: which changes each delivery brought to a document, who
//! delivered them, from which device and when.
//!
//! A change is named by Automerge's own identity for it, its actor and sequence number, which the document
//! keeps for good (its hash follows from the document). One actor's changes to a document arrive in
//! sequence order, so a delivery is a run of sequence numbers, and the deliveries of one actor's changes to
//! one document are packed into rows of up to [`ENTRIES_PER_ROW`] entries of a few bytes each: a year's
//! trail takes a few bytes a change instead of a row with a hash, an account and a device each.

use std::collections::HashMap;

use serde::Serialize;

use super::{Attribution, NewChange, StoreError, StoreResult};

/// Deliveries packed into one row before a new one starts: small enough that adding one rewrites a few
/// hundred bytes, large enough that a row's own keys are a small part of it.
pub const ENTRIES_PER_ROW: i64 = 64;

/// One delivery of an actor's consecutive changes to a document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The actor whose changes these are.
    pub actor: Vec<u8>,
    /// The first change's sequence number.
    pub first_seq: u64,
    /// How many consecutive changes.
    pub count: u64,
    /// Account that delivered them.
    pub account: String,
    /// Device that delivered them.
    pub device: String,
    /// When they arrived (Unix seconds).
    pub at: i64,
}

impl Delivery {
    /// Whether this delivery brought the actor's change number `seq`.
    pub fn covers(&self, actor: &[u8], seq: u64) -> bool {
        self.actor == actor && seq >= self.first_seq && seq - self.first_seq < self.count
    }
}

/// A run of one actor's consecutive changes within a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run<'a> {
    /// The actor.
    pub actor: &'a [u8],
    /// Sequence number of the first change.
    pub first_seq: u64,
    /// How many.
    pub count: u64,
}

/// The batch's changes as runs of consecutive sequence numbers per actor, in the order each run starts.
pub fn runs(changes: &[NewChange]) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    for change in changes {
        let extends = runs
            .iter_mut()
            .rev()
            .find(|r| r.actor == change.actor.as_slice());
        match extends {
            Some(run) if run.first_seq + run.count == change.seq => run.count += 1,
            _ => runs.push(Run {
                actor: &change.actor,
                first_seq: change.seq,
                count: 1,
            }),
        }
    }
    runs
}

/// One row of packed deliveries of an actor's changes to a document, as the tables keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedRow {
    /// Sequence number of the row's first change.
    pub first_seq: i64,
    /// Sequence number of its last change.
    pub last_seq: i64,
    /// When its first delivery arrived.
    pub first_at: i64,
    /// When its last delivery arrived.
    pub last_at: i64,
    /// Deliveries packed in it.
    pub entries: i64,
    /// The deliveries, each as LEB128 numbers: the count less one, doubled, plus one if the run does not
    /// follow straight on from the one before, then that gap in sequence numbers if so; the time since the
    /// one before (signed: clocks are set back); and the author's key. A delivery usually takes 4–5 bytes.
    pub packed: Vec<u8>,
}

/// One unpacked entry: a run of changes, when, and the interned author's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// First sequence number.
    pub first_seq: u64,
    /// How many.
    pub count: u64,
    /// Unix seconds.
    pub at: i64,
    /// The author's key in the authors table.
    pub author: i64,
}

impl PackedRow {
    /// A row holding one delivery.
    pub fn start(entry: Entry) -> Self {
        let mut row = PackedRow {
            first_seq: entry.first_seq as i64,
            last_seq: entry.first_seq as i64 - 1,
            first_at: entry.at,
            last_at: entry.at,
            entries: 0,
            packed: Vec::new(),
        };
        row.push(entry);
        row
    }

    /// Adds a delivery after the row's last one; `false` (and nothing added) when the row is full or the
    /// run does not come after what the row holds.
    pub fn push(&mut self, entry: Entry) -> bool {
        let first = entry.first_seq as i64;
        if self.entries >= ENTRIES_PER_ROW || first <= self.last_seq || entry.count == 0 {
            return false;
        }
        let gap = (first - self.last_seq - 1) as u64;
        // Writing to a Vec cannot fail.
        let _ = leb128::write::unsigned(
            &mut self.packed,
            ((entry.count - 1) << 1) | u64::from(gap > 0),
        );
        if gap > 0 {
            let _ = leb128::write::unsigned(&mut self.packed, gap);
        }
        let _ = leb128::write::signed(&mut self.packed, entry.at - self.last_at);
        let _ = leb128::write::unsigned(&mut self.packed, entry.author as u64);
        self.last_seq = first + entry.count as i64 - 1;
        self.last_at = entry.at;
        self.entries += 1;
        true
    }

    /// The deliveries the row holds, in order.
    pub fn unpack(&self) -> StoreResult<Vec<Entry>> {
        let corrupt = |what: &str| {
            StoreError::Invalid(format!(
                "the audit row from change {} is damaged: {what}",
                self.first_seq
            ))
        };
        let mut input = self.packed.as_slice();
        let mut entries = Vec::with_capacity(usize::try_from(self.entries).unwrap_or(0));
        let mut next_seq = self.first_seq as u64;
        let mut at = self.first_at;
        while !input.is_empty() {
            let mut number = || leb128::read::unsigned(&mut input).map_err(|_| corrupt("a number"));
            let head = number()?;
            let gap = if head & 1 == 1 { number()? } else { 0 };
            let count = (head >> 1) + 1;
            let delta = leb128::read::signed(&mut input).map_err(|_| corrupt("a time"))?;
            let author = leb128::read::unsigned(&mut input).map_err(|_| corrupt("an author"))?;
            let first_seq = next_seq + gap;
            at += delta;
            entries.push(Entry {
                first_seq,
                count,
                at,
                author: author as i64,
            });
            next_seq = first_seq + count;
        }
        if entries.len() as i64 != self.entries {
            return Err(corrupt("the count of deliveries"));
        }
        Ok(entries)
    }
}

/// How recording a run changes the rows of its actor and document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowWrite {
    /// The last row, with the delivery added.
    Extend(PackedRow),
    /// A new row holding the delivery.
    Start(PackedRow),
}

/// The write that records `run`, delivered at `at` by `author`, given the actor's last row for the
/// document; `None` when each of its changes is recorded already (a change delivered again).
pub fn record(last: Option<PackedRow>, run: &Run<'_>, at: i64, author: i64) -> Option<RowWrite> {
    let recorded = last.as_ref().map_or(0, |row| row.last_seq as u64);
    let end = run.first_seq + run.count;
    if end <= recorded + 1 {
        return None;
    }
    let first_seq = run.first_seq.max(recorded + 1);
    let entry = Entry {
        first_seq,
        count: end - first_seq,
        at,
        author,
    };
    Some(
        match last.and_then(|mut row| row.push(entry).then_some(row)) {
            Some(row) => RowWrite::Extend(row),
            None => RowWrite::Start(PackedRow::start(entry)),
        },
    )
}

/// The deliveries packed in a document's rows (each with its actor), oldest first, with the authors'
/// account and device from `authors`.
pub fn deliveries(
    rows: Vec<(Vec<u8>, PackedRow)>,
    authors: &HashMap<i64, (String, String)>,
) -> StoreResult<Vec<Delivery>> {
    let mut found = Vec::new();
    for (actor, row) in rows {
        for entry in row.unpack()? {
            let (account, device) = authors.get(&entry.author).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "the audit trail names an unknown author {}",
                    entry.author
                ))
            })?;
            found.push(Delivery {
                actor: actor.clone(),
                first_seq: entry.first_seq,
                count: entry.count,
                account: account.clone(),
                device: device.clone(),
                at: entry.at,
            });
        }
    }
    found.sort_by_key(|d| d.at);
    Ok(found)
}

/// An older change log's attribution, one `(hash, who)` per change in stored order, as batches of
/// changes named by actor and sequence number, one batch per run of changes with the same attribution.
/// `document` is the document's bytes; a hash it does not hold is left out.
pub fn batches_from_log(
    doc_id: &str,
    document: &[u8],
    log: Vec<(String, Attribution)>,
) -> StoreResult<Vec<(Attribution, Vec<NewChange>)>> {
    let doc = automerge::Automerge::load(document).map_err(|e| {
        StoreError::Invalid(format!(
            "document {doc_id} cannot be read to convert its audit trail: {e}"
        ))
    })?;
    let named: HashMap<String, (Vec<u8>, u64)> = doc
        .get_changes(&[])
        .into_iter()
        .map(|c| {
            (
                c.hash().to_string(),
                (c.actor_id().to_bytes().to_vec(), c.seq()),
            )
        })
        .collect();
    let mut batches: Vec<(Attribution, Vec<NewChange>)> = Vec::new();
    for (hash, by) in log {
        let Some((actor, seq)) = named.get(&hash) else {
            tracing::warn!(doc = doc_id, change = %hash, "a logged change is not in its document; left out of the audit trail");
            continue;
        };
        let change = NewChange {
            hash,
            actor: actor.clone(),
            seq: *seq,
            bytes: Vec::new(),
        };
        match batches.last_mut() {
            Some((last, changes)) if *last == by => changes.push(change),
            _ => batches.push((by, vec![change])),
        }
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn change(actor: u8, seq: u64) -> NewChange {
        NewChange {
            hash: format!("{actor}-{seq}"),
            actor: vec![actor],
            seq,
            bytes: Vec::new(),
        }
    }

    /// A batch from two actors, interleaved, becomes one run per actor; a gap starts a new run.
    #[test]
    fn a_batch_splits_into_runs_per_actor() {
        let batch = [
            change(1, 4),
            change(2, 1),
            change(1, 5),
            change(2, 2),
            change(1, 7),
        ];
        let found: Vec<(u8, u64, u64)> = runs(&batch)
            .iter()
            .map(|r| (r.actor[0], r.first_seq, r.count))
            .collect();
        assert_eq!(found, vec![(1, 4, 2), (2, 1, 2), (1, 7, 1)]);
    }

    /// A row refuses a run that does not come after it, and a sixty-fifth delivery.
    #[test]
    fn a_row_takes_only_later_runs_and_at_most_its_size() {
        let entry = |first_seq, at| Entry {
            first_seq,
            count: 1,
            at,
            author: 3,
        };
        let mut row = PackedRow::start(entry(1, 100));
        assert!(!row.push(entry(1, 101)), "the same change again");
        for seq in 2..=ENTRIES_PER_ROW as u64 {
            assert!(row.push(entry(seq, 100 + seq as i64)));
        }
        assert!(!row.push(entry(ENTRIES_PER_ROW as u64 + 1, 500)));
        assert_eq!(
            row.unpack().expect("unpacks").len(),
            ENTRIES_PER_ROW as usize
        );
    }

    proptest! {
        /// Whatever deliveries a row takes come back out as they went in, times set back included.
        #[test]
        fn deliveries_come_back_as_packed(
            steps in prop::collection::vec((0u64..1_000, 1u64..300, -100_000i64..10_000_000, 0i64..5_000), 1..80)
        ) {
            let mut wanted = Vec::new();
            let mut next = 1u64;
            let mut at = 1_790_000_000i64;
            let mut row: Option<PackedRow> = None;
            for (gap, count, delta, author) in steps {
                at += delta;
                let entry = Entry { first_seq: next + gap, count, at, author };
                let taken = match row.as_mut() {
                    None => { row = Some(PackedRow::start(entry)); true }
                    Some(row) => row.push(entry),
                };
                if !taken {
                    break;
                }
                next = entry.first_seq + count;
                wanted.push(entry);
            }
            let row = row.expect("a row");
            prop_assert_eq!(row.unpack().expect("unpacks"), wanted.clone());
            prop_assert_eq!(row.last_seq as u64, next - 1);
            prop_assert_eq!(row.last_at, wanted.last().expect("one").at);
        }
    }
}
