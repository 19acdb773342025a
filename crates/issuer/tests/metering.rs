//! Group-committed metering counts every provision exactly once, on every backend.

use jpki_issuer::meter::{usage, Meter, Provision};
use jpki_profile::fees::{fee_yen, ProvisionMethod};
use jpki_profile::KeyRole;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_provisions_are_all_counted_and_priced() {
    let dir = tempfile::tempdir().unwrap();
    for url in jpki_store::testing::database_urls(dir.path()).await {
        let db = jpki_store::Database::open(&url).await.unwrap();
        jpki_issuer::Issuer::init(db.clone()).await.unwrap();
        let meter = Meter::start(db.clone());
        let at = jpki_issuer::now();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let meter = meter.clone();
                tokio::spawn(async move {
                    let role = if i % 2 == 0 { KeyRole::Signature } else { KeyRole::Authentication };
                    let operator = (i % 4 < 2).then(|| "operator_a".to_owned());
                    for _ in 0..5 {
                        meter.record(vec![Provision::revocation_info(operator.clone(), role, ProvisionMethod::Ocsp, at)]).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let lines = usage(&db).await.unwrap();
        assert_eq!(lines.len(), 4, "{url}: {lines:?}");
        let date = at.to_offset(jpki_profile::cert_profile::JST).date();
        for line in &lines {
            assert_eq!(line.count, 250, "{url}: {line:?}");
            let unit = i64::from(fee_yen(ProvisionMethod::Ocsp, line.cert_kind, date).unwrap());
            assert_eq!(line.fee_yen, unit * 250, "{url}: {line:?}");
        }
        db.close().await;
    }
}
