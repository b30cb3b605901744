//! The writer's connection: one batch into the database in one transaction. Resolves camera
//! names to ids and makes the monthly partitions first (each idempotent, committed on its own),
//! then, in the transaction, fences the rows a node made (share-locks their cameras' leases
//! and refuses the rows [`crate::lease::fence`] refuses, counted and logged), `COPY`s the
//! passages and their reads into the staging tables, moves them into the log (skipping
//! passages it already holds, raising watchlist alerts, announced on commit), and upserts the
//! clips. A fenced row is logged as its node's (`node_id`); an unfenced one as no node's.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Datelike, Utc};
use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::ToSql;

use super::sql::{
    ALERT_CHANNEL, CREATE_STAGING, EPOCH_FACTS, LOCK_LEASES, MOVE_STAGED, STAGE_PASSAGE_TYPES,
    STAGE_READ_TYPES, UPSERT_CLIP,
};
use super::{WriteItem, WriterStats, Written};
use crate::lease::{fence, EpochFacts, Refusal};
use crate::plate::{fold_confusions, PlateFragment, PlateKey};
use crate::store::{Store, StoreError};

/// The writer's connection and what it has learnt about the database.
pub(super) struct WriterConnection {
    /// Where connections come from.
    store: Store,
    /// The connection in use, with its staging tables; dropped after an error.
    client: Option<deadpool_postgres::Object>,
    /// Camera ids by name.
    cameras: HashMap<String, i64>,
    /// Months whose partitions exist (year × 12 + month).
    months: HashSet<i32>,
}

fn month_of(t: &DateTime<Utc>) -> i32 {
    t.year() * 12 + t.month0() as i32
}

impl WriterConnection {
    pub(super) fn new(store: Store) -> WriterConnection {
        WriterConnection {
            store,
            client: None,
            cameras: HashMap::new(),
            months: HashSet::new(),
        }
    }

    /// Drops the connection after an error; the next batch connects afresh. It is taken out
    /// of the pool, not handed back: a connection to a server that turned read-only (a fenced
    /// old primary) would otherwise come back from the pool for every retry, while a fresh
    /// one goes to whichever host is the primary now.
    pub(super) fn reset(&mut self) {
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
        // Retention may have dropped a month meanwhile.
        self.months.clear();
    }

    async fn client(&mut self) -> Result<&mut deadpool_postgres::Object, StoreError> {
        // The server closed it (it stopped or crashed): connect afresh, to whichever host is
        // the primary now, rather than fail the batch on a dead connection.
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.reset();
        }
        if self.client.is_none() {
            let client = self.store.client().await?;
            client.batch_execute(CREATE_STAGING).await?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Pool("no connection".into()))
    }

    async fn camera_id(&mut self, name: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.cameras.get(name) {
            return Ok(*id);
        }
        let client = self.client().await?;
        let id = crate::store::query::camera_id_or_create(client, name).await?;
        self.cameras.insert(name.to_string(), id);
        Ok(id)
    }

    async fn ensure_months(&mut self, times: &[DateTime<Utc>]) -> Result<(), StoreError> {
        let mut missing: Vec<&DateTime<Utc>> = times
            .iter()
            .filter(|t| !self.months.contains(&month_of(t)))
            .collect();
        missing.sort();
        if let (Some(first), Some(last)) = (missing.first().copied(), missing.last().copied()) {
            let (first, last) = (*first, *last);
            let client = self.client().await?;
            client
                .execute("SELECT matthan_ensure_months($1, $2)", &[&first, &last])
                .await?;
            let (a, b) = (month_of(&first), month_of(&last));
            self.months.extend(a..=b);
        }
        Ok(())
    }

    /// Writes one batch in one transaction, raising its watchlist alerts.
    pub(super) async fn write(&mut self, batch: &[WriteItem]) -> Result<Written, StoreError> {
        let camera_ids = self.resolve(batch).await?;
        let client = self.client().await?;
        let tx = client.transaction().await?;
        let taken = check_fences(&tx, batch, &camera_ids).await?;
        let (kept, kept_ids): (Vec<&WriteItem>, Vec<i64>) = batch
            .iter()
            .zip(&camera_ids)
            .zip(&taken)
            .filter(|(_, taken)| **taken)
            .map(|((item, id), _)| (item, *id))
            .unzip();
        stage_passages(&tx, &kept, &kept_ids).await?;
        stage_reads(&tx, &kept).await?;
        let (inserted, alerts) = move_staged(&tx).await?;
        let clips = upsert_clips(&tx, &kept, &kept_ids).await?;
        tx.commit().await?;
        let passages_in_batch = kept
            .iter()
            .filter(|i| matches!(i, WriteItem::Passage(_)))
            .count() as u64;
        Ok(Written {
            passages: inserted,
            duplicates: passages_in_batch - inserted,
            clips,
            alerts,
            refused: (batch.len() - kept.len()) as u64,
        })
    }

    /// Resolves the batch's camera names to ids (one per item, in order) and makes the
    /// monthly partitions its passages need. Each commits on its own and is idempotent.
    async fn resolve(&mut self, batch: &[WriteItem]) -> Result<Vec<i64>, StoreError> {
        let mut camera_ids = Vec::with_capacity(batch.len());
        let mut best_times = Vec::new();
        for item in batch {
            let name = match item {
                WriteItem::Passage(p) => {
                    best_times.push(p.facts.best_at);
                    &p.camera
                }
                WriteItem::Clip(c) => &c.camera,
            };
            camera_ids.push(self.camera_id(name).await?);
        }
        self.ensure_months(&best_times).await?;
        Ok(camera_ids)
    }
}

/// Which rows of the batch the fence takes (one flag per row, in order): unfenced rows all,
/// fenced ones by [`fence`] against their camera's epochs, read after share-locking the
/// cameras' leases so none changes hands before the batch commits. Each refused group
/// (camera, epoch, why) is logged once.
async fn check_fences(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[WriteItem],
    camera_ids: &[i64],
) -> Result<Vec<bool>, StoreError> {
    let mut epochs: Vec<(i64, i64)> = batch
        .iter()
        .zip(camera_ids)
        .filter_map(|(item, camera)| item.fence().map(|f| (*camera, f.epoch)))
        .collect();
    if epochs.is_empty() {
        return Ok(vec![true; batch.len()]);
    }
    epochs.sort_unstable();
    epochs.dedup();
    let mut cameras: Vec<i64> = epochs.iter().map(|(c, _)| *c).collect();
    cameras.dedup();
    tx.query(LOCK_LEASES, &[&cameras]).await?;
    let (ids, numbers): (Vec<i64>, Vec<i64>) = epochs.iter().copied().unzip();
    let mut facts: HashMap<(i64, i64), EpochFacts> = HashMap::new();
    for row in tx.query(EPOCH_FACTS, &[&ids, &numbers]).await? {
        facts.insert(
            (row.get(0), row.get(1)),
            EpochFacts {
                holder: row.get(2),
                next_since: row.get(3),
            },
        );
    }
    let mut refused: HashMap<(&str, i64, Refusal), u64> = HashMap::new();
    let taken = batch
        .iter()
        .zip(camera_ids)
        .map(|(item, camera)| {
            let Some(f) = item.fence() else {
                return true;
            };
            let epoch = facts.get(&(*camera, f.epoch)).copied().unwrap_or_default();
            match fence(f, &epoch) {
                Ok(()) => true,
                Err(why) => {
                    *refused.entry((item.camera(), f.epoch, why)).or_default() += 1;
                    false
                }
            }
        })
        .collect();
    for ((camera, epoch, why), n) in refused {
        let why = match why {
            Refusal::UnknownEpoch => "its node never held that lease",
            Refusal::AfterHandover => "made after the camera changed hands",
        };
        tracing::warn!(
            "fence: {n} row(s) of camera {camera} under lease epoch {epoch} refused: {why}"
        );
    }
    Ok(taken)
}

/// `COPY`s the batch's passages into `stage_passages`, each with its place in the batch
/// (`seq`); a passage that appears twice in the batch is staged once.
async fn stage_passages(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[&WriteItem],
    camera_ids: &[i64],
) -> Result<(), StoreError> {
    let mut seen_keys = HashSet::new();
    let sink = tx
        .copy_in("COPY stage_passages FROM STDIN (FORMAT binary)")
        .await?;
    let writer = BinaryCopyInWriter::new(sink, STAGE_PASSAGE_TYPES);
    pin_mut!(writer);
    for (seq, (item, camera_id)) in batch.iter().zip(camera_ids).enumerate() {
        let WriteItem::Passage(p) = item else {
            continue;
        };
        let f = &p.facts;
        // The same passage twice in one batch would insert its reads twice.
        if !seen_keys.insert((*camera_id, f.best_at, f.first_seen, p.track_no, p.run_id)) {
            continue;
        }
        let seq = seq as i32;
        // The database holds the types' names.
        let vehicle_class = f.vehicle_class.as_str();
        let plate_key = f.plate_key.as_ref().map(PlateKey::as_str);
        let partial_plate = f.partial_plate.as_ref().map(PlateFragment::as_str);
        let direction = f.direction.as_str();
        // NULL, not an empty array, for a passage without a gap; `unseen_ms` likewise.
        let gaps = (!f.gaps.is_empty()).then_some(f.gaps.as_slice());
        let unseen_ms = f.unseen_ms();
        let node_id = p.fence.map(|f| f.node_id);
        let row: [&(dyn ToSql + Sync); 24] = [
            &seq,
            camera_id,
            &p.track_no,
            &f.first_seen,
            &f.last_seen,
            &f.best_at,
            &vehicle_class,
            &plate_key,
            &f.plate_display,
            &f.plate_confidence,
            &f.is_vietnamese,
            &direction,
            &f.crossed_line,
            &p.clip_started_at,
            &p.clip_offset_ms,
            &p.snapshot_path,
            &p.bbox,
            &p.frames_seen,
            &partial_plate,
            &f.partial_confidence,
            &gaps,
            &unseen_ms,
            &p.run_id,
            &node_id,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// `COPY`s every plate candidate of the batch's passages into `stage_reads`, under its
/// passage's `seq`, with its folded key (what fuzzy search and fuzzy watches look up).
async fn stage_reads(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[&WriteItem],
) -> Result<(), StoreError> {
    let sink = tx
        .copy_in("COPY stage_reads FROM STDIN (FORMAT binary)")
        .await?;
    let writer = BinaryCopyInWriter::new(sink, STAGE_READ_TYPES);
    pin_mut!(writer);
    for (seq, item) in batch.iter().enumerate() {
        let WriteItem::Passage(p) = item else {
            continue;
        };
        let seq = seq as i32;
        for r in &p.reads {
            let key = r.key.as_str();
            let folded = fold_confusions(key);
            let row: [&(dyn ToSql + Sync); 6] = [
                &seq,
                &r.rank,
                &key,
                &folded,
                &r.confidence,
                &r.char_confidences,
            ];
            writer.as_mut().write(&row).await?;
        }
    }
    writer.finish().await?;
    Ok(())
}

/// Moves the staged batch into the log; returns the passages inserted and the ids of the
/// alerts raised, which are announced on [`ALERT_CHANNEL`] when (and only if) the batch commits.
async fn move_staged(
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<(u64, Vec<i64>), StoreError> {
    let row = tx.query_one(MOVE_STAGED, &[]).await?;
    let inserted = row.get::<_, i64>(0) as u64;
    let alerts: Vec<i64> = row.get(2);
    if !alerts.is_empty() {
        let ids: Vec<String> = alerts.iter().map(i64::to_string).collect();
        // Delivered to listeners when (and only if) the batch commits.
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&ALERT_CHANNEL, &ids.join(",")],
        )
        .await?;
    }
    Ok((inserted, alerts))
}

/// Inserts or refreshes the batch's clip rows; returns how many.
async fn upsert_clips(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[&WriteItem],
    camera_ids: &[i64],
) -> Result<u64, StoreError> {
    let mut clips = 0u64;
    for (item, camera_id) in batch.iter().zip(camera_ids) {
        if let WriteItem::Clip(c) = item {
            let node_id = c.fence.map(|f| f.node_id);
            tx.execute(
                UPSERT_CLIP,
                &[
                    camera_id,
                    &c.started_at,
                    &c.ended_at,
                    &c.path,
                    &c.bytes,
                    &c.sha256,
                    &node_id,
                ],
            )
            .await?;
            clips += 1;
        }
    }
    Ok(clips)
}

/// Writes `items` now, in one batch, without a writer task (tests, tools).
pub async fn write_batch(store: &Store, items: &[WriteItem]) -> Result<WriterStats, StoreError> {
    let started = Instant::now();
    let mut conn = WriterConnection::new(store.clone());
    let written = conn.write(items).await?;
    tracing::debug!(
        "wrote {} records in {:.1} ms",
        items.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(WriterStats {
        passages: written.passages,
        duplicates: written.duplicates,
        clips: written.clips,
        batches: 1,
        alerts: written.alerts.len() as u64,
        refused: written.refused,
        ..WriterStats::default()
    })
}
