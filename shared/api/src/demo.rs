//! `ctp serve --demo`: two tenants, each with one user per role and an active study with two
//! active sites, so a new user can log in and try every workflow at once.

use ctp_domain::ids::{MemberId, SiteId, TenantId};
use ctp_domain::member::{Membership, Role};
use ctp_domain::site::{Country, Site, SiteStatus};
use ctp_domain::study::{Phase, ProtocolId, Study, StudyStatus};
use ctp_http::ApiError;
use serde::{Deserialize, Serialize};

use crate::records::Changes;
use crate::users::NewUser;
use crate::{App, keys, members, sites, studies, tenants, users};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DemoLogin {
    pub tenant: String,
    pub role: String,
    pub email: String,
    pub password: String,
}

const TENANTS: [(&str, &str, &str); 2] = [
    ("acme-pharma", "Acme Pharma", "acme.example"),
    ("borealis-cro", "Borealis CRO", "borealis.example"),
];

fn demo_password() -> String {
    // Random, so no two demo installations share passwords; long enough for the policy.
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("Demo-{}-{}", &id[..8], &id[8..16])
}

/// Seed the demo data unless the tenants already exist. Returns the logins it created (empty
/// when the data directory was seeded before).
pub async fn seed(app: &App) -> Result<Vec<DemoLogin>, ApiError> {
    let mut logins = Vec::new();
    for (tenant_id, tenant_name, domain) in TENANTS {
        let tenant = TenantId::parse(tenant_id)?;
        if tenants::load(app, &tenant).await?.is_some() {
            continue;
        }
        tenants::create_tenant(app, tenant.clone(), tenant_name, &app.config.region).await?;
        let ctx = tenants::admin_context(&tenant, "ctp serve --demo");
        let mut created = Vec::new();
        for role in Role::ALL {
            let email = format!("{role}@{domain}").replace('_', ".");
            let password = demo_password();
            let user = users::create(
                app,
                &ctx,
                &tenant,
                NewUser {
                    email: email.clone(),
                    name: format!("{} ({})", title_case(&role.to_string()), tenant_name),
                    password: password.clone(),
                    tenant_admin: role == Role::TenantAdmin,
                },
            )
            .await?;
            logins.push(DemoLogin { tenant: tenant_id.into(), role: role.to_string(), email, password });
            created.push((role, user));
        }
        let admin_id = created[0].1.id.clone();
        let mut changes = Changes::new(&ctx);
        let mut study = Study::new(
            tenant.clone(),
            ProtocolId::parse(&format!("{}-301", tenant_id[..4].to_uppercase()))?,
            "A randomised, double-blind study of demo-mab in moderate hypertension",
            Phase::Phase3,
            admin_id.clone(),
            changes.now(),
        )?;
        study.status = StudyStatus::Active;
        changes.claim_unique(keys::tenant(&tenant), keys::protocol_sk(&study.protocol_id.unique_key()), study.id.as_str(), "protocol taken".into());
        changes.create(&studies::study_ref(&study), &study, None)?;
        let mut site_ids = Vec::new();
        for (n, (number, name, country, pi)) in
            [("101", "Charité Berlin", "DE", "Dr. Lena Vogel"), ("201", "Hospital Clínic Barcelona", "ES", "Dr. Marc Puig")].into_iter().enumerate()
        {
            let site = Site {
                id: SiteId::generate(),
                study_id: study.id.clone(),
                site_number: number.into(),
                name: name.into(),
                country: Country::parse(country)?,
                principal_investigator: pi.into(),
                enrollment_cap: 20 + 10 * n as u32,
                enrolled_count: 0,
                status: SiteStatus::Active,
                created_at: changes.now(),
                created_by: admin_id.clone(),
            };
            changes.claim_unique(keys::study_partition(&tenant, &study.id), keys::site_number_sk(number), site.id.as_str(), "site number taken".into());
            changes.create(&sites::site_ref(&tenant, &site), &site, None)?;
            site_ids.push(site.id);
        }
        for (role, user) in &created[1..] {
            // Site staff work at the first site; the others see the whole study.
            let site_id = matches!(role, Role::Investigator | Role::Coordinator).then(|| site_ids[0].clone());
            let member = Membership {
                id: MemberId::generate(),
                study_id: study.id.clone(),
                user_id: user.id.clone(),
                role: *role,
                site_id,
                created_at: changes.now(),
                created_by: admin_id.clone(),
            };
            changes.claim_unique(
                keys::study_partition(&tenant, &study.id),
                keys::member_guard_sk(&member.user_id, member.site_id.as_ref()),
                member.id.as_str(),
                "membership taken".into(),
            );
            changes.create(&members::member_ref(&tenant, &member), &member, None)?;
        }
        changes.commit(app).await?;
    }
    Ok(logins)
}

fn title_case(role: &str) -> String {
    role.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
