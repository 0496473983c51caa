//! The store under contention from several pools on one database, as
//! several replicas (or processes on one SQLite file) use it: each job is
//! claimed once, and numbers handed out as `MAX + 1` never collide. Run on
//! both engines like the rest of the suite.

use std::collections::BTreeSet;

use essay_grader::store::{self, Db, jobs, models};

use crate::helpers::fresh_database_url;

/// `n` pools on one fresh database, with one empty dataset for jobs to name.
async fn pools(n: usize) -> (tempfile::TempDir, Vec<Db>) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let mut pools = Vec::new();
    for _ in 0..n {
        pools.push(store::open(&url, 4).await.unwrap());
    }
    store::datasets::insert_dataset(
        &pools[0],
        &store::datasets::NewDataset {
            id: "d1".into(),
            name: "empty".into(),
            layout: "{}".into(),
            targets: "[]".into(),
            score_grid: None,
            problems: "[]".into(),
            created_at: store::now(),
            prompts: Vec::new(),
            essays: Vec::new(),
        },
    )
    .await
    .unwrap();
    (dir, pools)
}

#[tokio::test]
async fn workers_of_four_pools_racing_for_forty_jobs_claim_each_exactly_once() {
    let (_dir, pools) = pools(4).await;
    let mut queued = BTreeSet::new();
    for n in 0..40 {
        let id = store::new_id();
        jobs::insert_job(
            &pools[n % 4],
            &jobs::NewJob {
                id: id.clone(),
                run_id: store::new_id(),
                kind: "cv".into(),
                dataset_id: "d1".into(),
                config: "{}".into(),
                resolved_config: "{}".into(),
                created_at: store::now(),
            },
        )
        .await
        .unwrap();
        queued.insert(id);
    }

    let mut tasks = Vec::new();
    for (p, pool) in pools.iter().enumerate() {
        for w in 0..2 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let holder = format!("pool{p}-worker{w}");
                let mut mine = Vec::new();
                loop {
                    let now = store::now();
                    let until = store::format_time(
                        time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(30),
                    );
                    let terms = jobs::LeaseTerms {
                        now: &now,
                        expires_at: &until,
                    };
                    match jobs::claim_next_job(&pool, &holder, terms).await.unwrap() {
                        Some(claim) => mine.push(claim.job.id),
                        None => return mine,
                    }
                }
            }));
        }
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }

    let distinct: BTreeSet<String> = claimed.iter().cloned().collect();
    assert_eq!(claimed.len(), 40, "no job was handed out twice");
    assert_eq!(distinct, queued);
}

#[tokio::test]
async fn models_registered_and_activated_at_once_through_four_pools_get_distinct_numbers() {
    let (_dir, pools) = pools(4).await;

    let mut tasks = Vec::new();
    for (p, pool) in pools.iter().enumerate() {
        for n in 0..3 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let artifact = format!("{{\"pool\": {p}, \"n\": {n}}}").into_bytes();
                let record = models::register_model(
                    &pool,
                    &models::NewModel {
                        artifact: &artifact,
                        metrics: serde_json::json!({}),
                        run_id: None,
                        dataset_id: None,
                        source: "train",
                    },
                )
                .await
                .unwrap();
                models::activate_model(&pool, &record.id)
                    .await
                    .unwrap()
                    .expect("the model exists");
                record.version
            }));
        }
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }

    versions.sort();
    assert_eq!(versions, (1..=12).collect::<Vec<i64>>());
    let history = models::activation_history(&pools[0], 1000, 0)
        .await
        .unwrap();
    let seqs: BTreeSet<i64> = history.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, (1..=12).collect());
}
