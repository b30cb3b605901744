//! The log against a real PostgreSQL: migrations, the batched writer (idempotent, with
//! rejoined passages' unseen spans), plate search in its three modes with filters and keyset pagination, and counts per bucket.
//! Each test makes its own scratch database.

mod common;

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{items, new_passage, t};
use matthan::plate::search::{PlateQuery, SearchMode};
use matthan::store::query::{self, Bucket, Cursor, SearchFilter, SearchPage};
use matthan::store::scratch::ScratchDatabase;
use matthan::store::writer::write_batch;
use matthan::store::{NewPassage, UnseenSpan, Writer, WriterSettings};

async fn search(
    db: &ScratchDatabase,
    text: &str,
    mode: Option<SearchMode>,
    filter: &SearchFilter,
) -> SearchPage {
    let q = PlateQuery::parse(text, mode).unwrap();
    let mut client = db.store.client().await.unwrap();
    query::search_passages(&mut client, &q, filter, 50, None)
        .await
        .unwrap()
}

fn keys(page: &SearchPage) -> Vec<String> {
    page.items
        .iter()
        .map(|p| {
            p.facts
                .plate_key
                .as_ref()
                .map(|k| k.to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_and_refuse_a_changed_schema() {
    let db = common::scratch("migrate").await;
    assert!(
        db.store.migrate().await.unwrap().is_empty(),
        "second run applies nothing"
    );
    let client = db.store.client().await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, matthan::store::migrate::MIGRATIONS.len());
    client
        .execute("UPDATE schema_migrations SET sha256 = 'changed'", &[])
        .await
        .unwrap();
    drop(client);
    let err = db.store.migrate().await.unwrap_err();
    assert!(err.to_string().contains("differs"), "{err}");
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_batches_and_is_idempotent() {
    let db = common::scratch("writer").await;
    let base = t("2026-10-31T23:00:00Z"); // batches cross a month boundary
                                          // Every 100th passage was rejoined after its vehicle went unseen for (i / 100 + 1) × 10 ms.
    let batch: Vec<NewPassage> = (0..3000)
        .map(|i| {
            let best_at = base + TimeDelta::seconds(i * 3);
            let mut p = new_passage(
                "cam-a",
                i,
                best_at,
                &[
                    (&format!("29A{:05}", i), 0.9),
                    (&format!("29A{:05}", i + 1), 0.4),
                ],
            );
            if i % 100 == 0 {
                let from = best_at - TimeDelta::seconds(1);
                p.facts.gaps = vec![UnseenSpan {
                    from,
                    to: from + TimeDelta::milliseconds((i / 100 + 1) * 10),
                }];
            }
            p
        })
        .collect();
    let writer = Writer::start(
        db.store.clone(),
        WriterSettings {
            max_batch: 700,
            ..Default::default()
        },
    );
    let input = writer.input();
    for item in items(batch.clone()) {
        input.send(item).await.unwrap();
    }
    drop(input);
    let stats = writer.close().await;
    assert_eq!(stats.passages, 3000);
    assert_eq!(stats.duplicates, 0);
    assert!(stats.batches >= 5, "{stats:?}");

    // The same passages again (a replayed batch, a re-ingested file): nothing new.
    let again = write_batch(&db.store, &items(batch[..1000].to_vec()))
        .await
        .unwrap();
    assert_eq!((again.passages, again.duplicates), (0, 1000));
    // Twice in one batch: written once.
    let twice = vec![
        new_passage("cam-b", 1, base, &[("30A33918", 0.8)]),
        new_passage("cam-b", 1, base, &[("30A33918", 0.8)]),
    ];
    let s = write_batch(&db.store, &items(twice)).await.unwrap();
    assert_eq!((s.passages, s.duplicates), (1, 1));

    let client = db.store.client().await.unwrap();
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM passages").await, 3001);
    assert_eq!(count("SELECT count(*) FROM plate_reads").await, 6001);
    // The rejoined passages' gaps and totals, written through the binary COPY: 30 of them,
    // unseen 10 + 20 + … + 300 ms; none for the others.
    assert_eq!(
        count("SELECT count(*) FROM passages WHERE cardinality(gaps) = 1").await,
        30
    );
    assert_eq!(
        count("SELECT count(*) FROM passages WHERE (gaps IS NULL) <> (unseen_ms IS NULL)").await,
        0
    );
    assert_eq!(
        count("SELECT sum(unseen_ms)::bigint FROM passages").await,
        (1..=30).map(|k| k * 10).sum::<i64>()
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM passages, unnest(gaps) g
             WHERE (extract(epoch FROM upper(g) - lower(g)) * 1000)::int <> unseen_ms"
        )
        .await,
        0
    );
    // Both months got a partition.
    assert_eq!(
        count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'passages'::regclass").await,
        2
    );
    drop(client);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_modes_find_what_they_should() {
    let db = common::scratch("search").await;
    let at = t("2026-11-29T01:00:00Z");
    let mut motorbike = new_passage("cam-a", 4, at + TimeDelta::minutes(3), &[("30A33918", 0.9)]);
    motorbike.facts.vehicle_class = "motorbike".parse().unwrap();
    let ps = vec![
        new_passage("cam-a", 1, at, &[("29B125662", 0.95)]),
        new_passage(
            "cam-a",
            2,
            at + TimeDelta::minutes(1),
            &[("29B125663", 0.9)],
        ),
        new_passage(
            "cam-b",
            3,
            at + TimeDelta::minutes(2),
            &[("29B125662", 0.7)],
        ),
        motorbike,
        // The vote got it wrong; the truth is the runner-up.
        new_passage(
            "cam-b",
            5,
            at + TimeDelta::minutes(4),
            &[("51F99998", 0.6), ("51F99999", 0.3)],
        ),
        new_passage("cam-a", 6, at + TimeDelta::minutes(5), &[("88C12345", 0.9)]),
    ];
    write_batch(&db.store, &items(ps)).await.unwrap();
    let all = SearchFilter::default();

    // Exact: the key, any layout of typing it.
    let page = search(&db, "29-B1 256.62", Some(SearchMode::Exact), &all).await;
    assert_eq!(keys(&page), ["29B125662", "29B125662"]);
    assert!(
        page.items[0].facts.best_at > page.items[1].facts.best_at,
        "newest first"
    );

    // Wildcard, prefix and suffix and single characters.
    assert_eq!(
        keys(&search(&db, "29B1*", None, &all).await),
        ["29B125662", "29B125663", "29B125662"]
    );
    assert_eq!(keys(&search(&db, "*3918", None, &all).await), ["30A33918"]);
    assert_eq!(keys(&search(&db, "29B12566?", None, &all).await).len(), 3);
    assert!(keys(&search(&db, "29B1?", None, &all).await).is_empty());

    // Fuzzy: look-alikes and one edit, ranked by likelihood.
    let page = search(&db, "298I25662", None, &all).await;
    assert_eq!(
        keys(&page),
        ["29B125662", "29B125662", "29B125663"],
        "confusion matches first (confident read first), then the one-edit match"
    );
    assert_eq!(page.items[0].matched.as_ref().unwrap().distance, 2);
    assert_eq!(page.items[2].matched.as_ref().unwrap().distance, 3);
    // A runner-up candidate is searched too, and the match says so.
    let page = search(&db, "51F99999", Some(SearchMode::Exact), &all).await;
    assert_eq!(keys(&page), ["51F99998"]);
    assert_eq!(page.items[0].matched.as_ref().unwrap().rank, 2);
    let page = search(&db, "51F-999.99", None, &all).await;
    assert_eq!(
        page.items[0].matched.as_ref().unwrap().plate_key,
        "51F99999"
    );
    // Two real edits away: nothing.
    assert!(search(&db, "29B125773", None, &all).await.items.is_empty());

    // Filters: camera, class, time.
    let client = db.store.client().await.unwrap();
    let cam_b = query::camera_id(&client, "cam-b").await.unwrap().unwrap();
    drop(client);
    let only_b = SearchFilter {
        camera_ids: Some(vec![cam_b]),
        ..Default::default()
    };
    assert_eq!(
        keys(&search(&db, "298I25662", None, &only_b).await),
        ["29B125662"]
    );
    let motorbikes = SearchFilter {
        vehicle_class: Some("motorbike".parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(
        keys(&search(&db, "30A*", None, &motorbikes).await),
        ["30A33918"]
    );
    assert!(search(&db, "29B1*", None, &motorbikes)
        .await
        .items
        .is_empty());
    let first_minute = SearchFilter {
        from: Some(at),
        to: Some(at + TimeDelta::seconds(60)),
        ..Default::default()
    };
    assert_eq!(
        keys(&search(&db, "29B1*", None, &first_minute).await),
        ["29B125662"]
    );
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frequent_neighbour_cannot_crowd_out_exact_matches() {
    let db = common::scratch("crowd").await;
    let base = t("2026-01-01T00:00:00Z");
    // Three old passages of the plate typed, then 6000 newer ones of a vehicle one edit away.
    let mut ps: Vec<NewPassage> = (0..3)
        .map(|i| {
            new_passage(
                "cam-a",
                i,
                base + TimeDelta::hours(i),
                &[("33M378530", 0.9)],
            )
        })
        .collect();
    ps.extend((0..6000).map(|i| {
        new_passage(
            "cam-b",
            10 + i,
            base + TimeDelta::days(30) + TimeDelta::minutes(i),
            &[("33M379530", 0.9)],
        )
    }));
    write_batch(&db.store, &items(ps)).await.unwrap();
    let page = search(&db, "33M378530", None, &SearchFilter::default()).await;
    assert_eq!(page.items.len(), 50);
    assert_eq!(
        keys(&page)[..4],
        ["33M378530", "33M378530", "33M378530", "33M379530"],
        "the exact matches first, however many newer near matches there are"
    );
    db.drop_database().await.unwrap();
}

/// Pages through a search; returns ids in order.
async fn page_through(
    db: &ScratchDatabase,
    q: &PlateQuery,
    limit: usize,
    insert_between: bool,
) -> Vec<i64> {
    let mut client = db.store.client().await.unwrap();
    let mut cursor: Option<Cursor> = None;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = query::search_passages(&mut client, q, &SearchFilter::default(), limit, cursor)
            .await
            .unwrap();
        assert!(page.items.len() <= limit);
        ids.extend(page.items.iter().map(|p| p.id));
        pages += 1;
        if insert_between && pages == 2 {
            // New passages arriving while the user pages: newer (time order) and exact
            // matches (fuzzy order) land before the cursor and must not shift later pages.
            let now = t("2026-11-30T00:00:00Z");
            let extra: Vec<NewPassage> = (0..7)
                .map(|i| {
                    new_passage(
                        "cam-z",
                        1000 + i,
                        now + TimeDelta::seconds(i),
                        &[("29B125662", 0.99)],
                    )
                })
                .collect();
            write_batch(&db.store, &items(extra)).await.unwrap();
        }
        match page.next_cursor {
            Some(c) => cursor = Some(Cursor::decode(&c).unwrap()),
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_is_stable() {
    let db = common::scratch("pages").await;
    let base = t("2026-11-29T00:00:00Z");
    // 130 passages of one plate and its look-alikes, some at the same instant.
    let ps: Vec<NewPassage> = (0..130)
        .map(|i| {
            let key = ["29B125662", "29B125663", "298I25662"][i as usize % 3];
            new_passage(
                "cam-a",
                i,
                base + TimeDelta::seconds(i / 2),
                &[(key, 0.5 + (i % 5) as f32 / 10.0)],
            )
        })
        .collect();
    write_batch(&db.store, &items(ps)).await.unwrap();
    let queries = [
        PlateQuery::parse("29*", None).unwrap(),
        PlateQuery::parse("29B125662", None).unwrap(),
    ];
    let mut baselines = Vec::new();
    for q in &queries {
        let ids = page_through(&db, q, 25, false).await;
        assert_eq!(ids.len(), 130, "{q:?}");
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            130,
            "no repeats {q:?}"
        );
        baselines.push(ids);
    }
    for (q, ids) in queries.iter().zip(baselines) {
        // Again with inserts in the middle: the original 130 all appear exactly once.
        let with_inserts = page_through(&db, q, 25, true).await;
        let original: HashSet<i64> = ids.iter().copied().collect();
        let seen: Vec<i64> = with_inserts
            .iter()
            .copied()
            .filter(|i| original.contains(i))
            .collect();
        assert_eq!(seen, ids, "order and membership unchanged for {q:?}");
    }
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_per_bucket_class_and_direction() {
    let db = common::scratch("counts").await;
    let client = db.store.client().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO junctions (name) VALUES ('J1'), ('J2');
             INSERT INTO cameras (name, junction_id) VALUES
               ('lined', (SELECT id FROM junctions WHERE name = 'J1')),
               ('open', (SELECT id FROM junctions WHERE name = 'J1')),
               ('elsewhere', (SELECT id FROM junctions WHERE name = 'J2'))",
        )
        .await
        .unwrap();
    let j1 = query::junction_id(&client, "J1").await.unwrap().unwrap();
    drop(client);
    // Local (UTC+7) times: 06:50, 07:05, 07:10, 07:55, 08:20 and next day 06:59.
    let ict = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let local =
        |d: u32, h: u32, m: u32| ict.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap().to_utc();
    let mut ps = Vec::new();
    let mut add =
        |camera: &str, at: DateTime<Utc>, class: &str, dir: &str, crossed: Option<bool>| {
            let mut p = new_passage(camera, ps.len() as i64, at, &[]);
            p.facts.vehicle_class = class.parse().unwrap();
            p.facts.direction = dir.parse().unwrap();
            p.facts.crossed_line = crossed;
            ps.push(p);
        };
    add("lined", local(29, 6, 50), "car", "along", Some(true));
    add("lined", local(29, 7, 5), "car", "along", Some(true));
    add("lined", local(29, 7, 10), "car", "along", Some(false)); // did not cross: not counted
    add("open", local(29, 7, 10), "motorbike", "against", None); // no line: counted
    add("open", local(29, 7, 55), "motorbike", "against", None);
    add("lined", local(29, 8, 20), "truck", "against", Some(true));
    add("open", local(30, 6, 59), "car", "along", None);
    add("elsewhere", local(29, 7, 30), "car", "along", None); // other junction
    write_batch(&db.store, &items(ps)).await.unwrap();

    let client = db.store.client().await.unwrap();
    let from = local(29, 0, 0);
    let to = local(30, 23, 59);
    let summary = |rows: Vec<query::CountRow>| -> Vec<(String, String, String, i64)> {
        rows.into_iter()
            .map(|r| {
                (
                    r.bucket_start
                        .with_timezone(&ict)
                        .format("%d %H:%M")
                        .to_string(),
                    r.vehicle_class.to_string(),
                    r.direction.to_string(),
                    r.count,
                )
            })
            .collect()
    };
    let s = |a: &str, b: &str, c: &str, n: i64| (a.to_string(), b.to_string(), c.to_string(), n);
    let hourly = summary(
        query::counts(&client, j1, from, to, Bucket::Hour)
            .await
            .unwrap(),
    );
    assert_eq!(
        hourly,
        vec![
            s("29 06:00", "car", "along", 1),
            s("29 07:00", "car", "along", 1),
            s("29 07:00", "motorbike", "against", 2),
            s("29 08:00", "truck", "against", 1),
            s("30 06:00", "car", "along", 1),
        ]
    );
    let quarter = summary(
        query::counts(&client, j1, from, to, Bucket::Quarter)
            .await
            .unwrap(),
    );
    assert_eq!(quarter[1], s("29 07:00", "car", "along", 1));
    assert_eq!(quarter[2], s("29 07:00", "motorbike", "against", 1));
    assert_eq!(quarter[3], s("29 07:45", "motorbike", "against", 1));
    // Days are local days: 06:59 on the 30th is the 30th, not the 29th.
    let daily = summary(
        query::counts(&client, j1, from, to, Bucket::Day)
            .await
            .unwrap(),
    );
    assert_eq!(
        daily,
        vec![
            s("29 00:00", "car", "along", 2),
            s("29 00:00", "motorbike", "against", 2),
            s("29 00:00", "truck", "against", 1),
            s("30 00:00", "car", "along", 1),
        ]
    );
    // A window excludes what is outside it.
    let narrow = query::counts(&client, j1, local(29, 7, 0), local(29, 8, 0), Bucket::Hour)
        .await
        .unwrap();
    assert_eq!(narrow.iter().map(|r| r.count).sum::<i64>(), 3);
    drop(client);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_class_direction_or_gap_in_the_database_is_an_error_not_a_panic() {
    let db = common::scratch("bad_value").await;
    let at = t("2026-11-29T01:00:00Z");
    let ps = vec![new_passage("cam-a", 1, at, &[("29B125662", 0.9)])];
    write_batch(&db.store, &items(ps)).await.unwrap();
    let client = db.store.client().await.unwrap();
    let id: i64 = client
        .query_one("SELECT id FROM passages", &[])
        .await
        .unwrap()
        .get(0);
    // The schema's CHECKs keep such values out; a database changed by hand may not have them.
    client
        .batch_execute(
            "ALTER TABLE passages DROP CONSTRAINT passages_direction_check,
                                  DROP CONSTRAINT passages_vehicle_class_check",
        )
        .await
        .unwrap();
    for (set, column) in [
        ("direction = 'sideways'", "direction"),
        (
            "direction = 'along', vehicle_class = 'tank'",
            "vehicle_class",
        ),
        // A gap must be a span with two ends.
        (
            "vehicle_class = 'car', gaps = ARRAY['empty'::tstzrange]",
            "gaps",
        ),
        ("gaps = ARRAY[tstzrange(best_at, NULL)]", "gaps"),
    ] {
        client
            .batch_execute(&format!("UPDATE passages SET {set}"))
            .await
            .unwrap();
        let err = query::passage(&client, id).await.unwrap_err();
        assert!(
            matches!(err, matthan::store::StoreError::BadValue { column: c, .. } if c == column),
            "{err}"
        );
    }
    drop(client);
    db.drop_database().await.unwrap();
}
