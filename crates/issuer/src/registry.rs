//! The resident registry (住民基本台帳) as the sandbox keeps it: people with their 4 information and
//! My Number. Life events change it through [`crate::lifecycle`].

use jpki_profile::cert_profile::KeyRole;
use jpki_profile::four_info::AltCharFlags;
use jpki_profile::{BirthDate, FourInfo, MyNumber, Sex};
use jpki_store::sqlx;
use serde::Serialize;
use time::OffsetDateTime;

use crate::{from_unix, now, Issuer, IssuerError};

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: String,
    #[serde(skip)]
    pub my_number: MyNumber,
    pub four_info: FourInfo,
    /// 住民票コード.
    #[serde(skip)]
    pub resident_code: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deceased_at: Option<OffsetDateTime>,
}

pub(crate) type PersonRow = (String, String, String, String, String, String, String, i64, Option<i64>, Option<String>);

pub(crate) const PERSON_COLUMNS: &str = "id, my_number, name, name_alt, address, address_alt, birth_date, sex, deceased_at, resident_code";

pub(crate) fn person_from_row(row: PersonRow) -> Result<Person, IssuerError> {
    let (id, my_number, name, name_alt, address, address_alt, birth_date, sex, deceased_at, resident_code) = row;
    let birth_date = BirthDate::parse_iso(&birth_date)?;
    let sex = u8::try_from(sex).ok().and_then(Sex::from_code).unwrap_or(Sex::NotKnown);
    let mut four_info = FourInfo::new(&name, &address, birth_date, sex)?;
    four_info.name_alt = AltCharFlags::parse("name", &four_info.name, &name_alt)?;
    four_info.address_alt = AltCharFlags::parse("address", &four_info.address, &address_alt)?;
    let my_number = my_number.parse().map_err(|_| IssuerError::Refused(format!("stored My Number of {id} is invalid")))?;
    let resident_code = resident_code.ok_or_else(|| IssuerError::Refused(format!("person {id} has no resident code")))?;
    Ok(Person { id, my_number, four_info, resident_code, deceased_at: deceased_at.map(from_unix) })
}

impl Issuer {
    /// Registers a person; a My Number is drawn at random when none is given.
    pub async fn add_person(&self, info: FourInfo, my_number: Option<MyNumber>) -> Result<Person, IssuerError> {
        let given = my_number.is_some();
        let mut my_number = my_number.unwrap_or_else(|| MyNumber::random(&mut rand::thread_rng()));
        let id = jpki_store::new_id("person");
        let at = now().unix_timestamp();
        let mut tx = self.db.begin_write().await?;
        loop {
            let taken: Option<(String,)> =
                sqlx::query_as("SELECT id FROM person WHERE my_number = $1").bind(my_number.as_digits()).fetch_optional(&mut *tx).await?;
            match taken {
                None => break,
                Some(_) if given => return Err(IssuerError::MyNumberTaken(my_number.as_digits())),
                Some(_) => my_number = MyNumber::random(&mut rand::thread_rng()),
            }
        }
        let resident_code = random_digits(11);
        sqlx::query(
            "INSERT INTO person (id, my_number, name, name_alt, address, address_alt, birth_date, sex, created_at, updated_at, resident_code)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
        )
        .bind(&id)
        .bind(my_number.as_digits())
        .bind(&info.name)
        .bind(info.name_alt.to_string())
        .bind(&info.address)
        .bind(info.address_alt.to_string())
        .bind(info.birth_date.to_string())
        .bind(i64::from(info.sex.code()))
        .bind(at)
        .bind(&resident_code)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Person { id, my_number, four_info: info, resident_code, deceased_at: None })
    }

    pub async fn person(&self, id: &str) -> Result<Person, IssuerError> {
        let row: Option<PersonRow> =
            sqlx::query_as(&format!("SELECT {PERSON_COLUMNS} FROM person WHERE id = $1")).bind(id).fetch_optional(self.db.pool()).await?;
        person_from_row(row.ok_or_else(|| IssuerError::UnknownPerson(id.to_owned()))?)
    }

    pub async fn people(&self) -> Result<Vec<Person>, IssuerError> {
        let rows: Vec<PersonRow> = sqlx::query_as(&format!("SELECT {PERSON_COLUMNS} FROM person ORDER BY created_at, id")).fetch_all(self.db.pool()).await?;
        rows.into_iter().map(person_from_row).collect()
    }

    /// The person's newest certificate of `role` on a device still in use (a card or a phone), revoked
    /// or not: what a login with that device would present. `None` if they have none.
    pub async fn current_certificate(&self, person_id: &str, role: KeyRole) -> Result<Option<Vec<u8>>, IssuerError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT c.der FROM certificate c JOIN card k ON k.id = c.card_id
             WHERE c.person_id = $1 AND c.ca_role = $2 AND c.replaced_by IS NULL AND k.status = 'active'
             ORDER BY c.not_before DESC, c.serial LIMIT 1",
        )
        .bind(person_id)
        .bind(role.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|(der,)| der))
    }
}

/// `n` random decimal digits.
pub(crate) fn random_digits(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}
