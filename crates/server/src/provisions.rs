//! What the platform asks of the issuer as a platform operator: the old → new certificate link
//! information, the latest 4 information of a revoked signature certificate's holder, and a customer's
//! consent to it, forwarded. With `--sandbox` the sandbox issuer is asked in-process, as the platform's
//! own operator account there; J-LIS provides these to platform operators by contract, over an
//! interface that is not public, so a production server has none of them and says so (503).

use axum::http::StatusCode;
use jpki_issuer::meter::Meter;
use jpki_issuer::provision::{CertificateLink, LatestFourInfo, Operator};
use jpki_issuer::{Issuer, IssuerError};

use crate::error::ApiError;

pub struct IssuerProvisions {
    issuer: Issuer,
    operator: Operator,
    meter: Meter,
}

/// What a latest-4-info request found.
pub enum Latest {
    Provided(LatestFourInfo),
    /// The certificate is not revoked: the 4 information the platform holds is current.
    Current,
}

impl IssuerProvisions {
    /// The sandbox issuer, asked as the operator named `operator`.
    pub async fn in_process(issuer: Issuer, meter: Meter, operator: &str) -> Result<IssuerProvisions, IssuerError> {
        let operator = issuer.in_process_operator(operator).await?;
        Ok(IssuerProvisions { issuer, operator, meter })
    }

    pub async fn links(&self, serials: &[String]) -> Result<Vec<CertificateLink>, ApiError> {
        self.issuer.certificate_links(&self.operator, serials, &self.meter).await.map_err(unavailable)
    }

    pub async fn latest_four_info(&self, serial: &str) -> Result<Latest, ApiError> {
        match self.issuer.latest_four_info(&self.operator, serial, &self.meter).await {
            Ok(info) => Ok(Latest::Provided(info)),
            Err(IssuerError::NotRevoked(_)) => Ok(Latest::Current),
            Err(IssuerError::NoConsent { .. }) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "consent_required",
                "the issuer holds no consent of this customer to the provision: record it with PUT /v1/customers/{id}/consent",
            )),
            Err(IssuerError::UnknownCertificate(serial)) => {
                Err(ApiError::new(StatusCode::CONFLICT, "certificate_unknown_to_issuer", format!("the issuer knows no signature certificate {serial}")))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    pub async fn forward_consent(&self, serial: &str, granted: bool) -> Result<(), ApiError> {
        self.issuer.forward_consent(&self.operator, serial, granted).await.map_err(unavailable)
    }
}

/// The issuer could not answer: that call fails (502), nothing is recorded as provided.
fn unavailable(e: IssuerError) -> ApiError {
    tracing::warn!(error = %e, "the issuer's provision failed");
    ApiError::new(StatusCode::BAD_GATEWAY, "issuer_unavailable", format!("the issuer did not answer: {e}"))
}

/// The answer when no issuer is connected.
pub fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "issuer_not_configured",
        "this platform has no connection to the issuer's provisions (J-LIS provides them to platform operators by contract; `jpki serve --sandbox` connects the sandbox's)",
    )
}
