"""Write the bundled offline corpus (``data/samples/corpus``) from the table below.

Every company, person and address here is synthetic, and every domain is under the
reserved ``.example`` top-level domain, so nothing in the corpus can reach a real inbox.
Run ``python scripts/build_sample_corpus.py`` after editing the table; the output is
committed so the demo needs no network and no generator.
"""

from __future__ import annotations

import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "gtm_pipeline" / "starter" / "corpus"
SNAPSHOT = "2026-11-20T09:00:00Z"


def doc(kind: str, title: str, path: str, text: str, published: str | None = None) -> dict[str, str | None]:
    return {"kind": kind, "title": title, "path": path, "text": text.strip(), "published": published}


def about(name: str, text: str) -> dict[str, str | None]:
    return doc("about", f"About {name}", "/about", text)


def careers(text: str) -> dict[str, str | None]:
    return doc("careers", "Careers", "/careers", text)


def news(date: str, title: str, slug: str, text: str) -> dict[str, str | None]:
    return doc("news", title, f"/news/{slug}", text, date)


def post(date: str, title: str, slug: str, text: str) -> dict[str, str | None]:
    return doc("post", title, f"/blog/{slug}", text, date)


# Companies: (folder, name, domain as the source spells it, contact or None, note, docs)
COMPANIES: list[tuple[str, str, str, tuple[str, str, str] | None, str, list[dict[str, str | None]]]] = [
    (
        "medibridge-health",
        "MediBridge Health",
        "medibridge-health.example",
        ("Priya Raman", "Head of Compliance", "priya.raman"),
        "fit: fresh program, hiring, owner in place",
        [
            about(
                "MediBridge Health",
                """
MediBridge Health runs a network of 14 outpatient clinics across the Pune region. Our care teams handle patient
records for more than 200,000 families every year. MediBridge employs 850 people, and our compliance team reports
directly to the board.
""",
            ),
            news(
                "2026-10-02",
                "MediBridge launches compliance automation program",
                "compliance-automation-2026",
                """
On 2 October 2026 MediBridge Health launched a compliance automation program to reach continuous audit readiness
across all 14 clinics. Until now, HIPAA evidence was gathered by hand in spreadsheets before every audit.
The program is led by the compliance team and funded for two years.
""",
            ),
            careers("""
We are hiring a Compliance Engineer to automate evidence collection for our clinical systems. You will work with
the security team and the compliance officer on access reviews and audit preparation.
"""),
            post(
                "2026-09-18",
                "What audit season taught us",
                "audit-season",
                """
Priya Raman, our Head of Compliance, wrote about audit season: three weeks of screenshots and spreadsheets for
every audit is not a process, it is a ritual. This year we are changing that.
""",
            ),
        ],
    ),
    (
        "medibridge-health-alt",
        "MediBridge Health",
        "https://WWW.MediBridge-Health.example/",
        ("Priya Raman", "Head of Compliance", "priya.raman"),
        "duplicate of medibridge-health under another spelling",
        [
            news(
                "2026-10-03",
                "Press kit: MediBridge compliance program",
                "press-kit-compliance",
                """
MediBridge Health confirmed a two-year compliance automation program for its clinics, with audit readiness as
the first goal. The press kit lists the compliance team as the contact for questions.
""",
            ),
        ],
    ),
    (
        "carepoint-clinics",
        "CarePoint Clinics",
        "carepoint-clinics.example",
        ("Daniel Okafor", "Compliance Officer", "d.okafor"),
        "fit",
        [
            about(
                "CarePoint Clinics",
                """
CarePoint Clinics is a primary care clinic group with 22 sites. We employ 1,200 people and keep health records
for our patients in a single electronic record system.
""",
            ),
            news(
                "2026-08-21",
                "CarePoint picks continuous compliance",
                "continuous-compliance",
                """
CarePoint Clinics said on 21 August 2026 that it is moving to continuous compliance, replacing manual audit prep
with automated checks on its clinical systems. The compliance officer will own the rollout.
""",
            ),
            careers("""
Open role: GRC Analyst. Help our compliance team map HIPAA controls and automate compliance reporting.
"""),
        ],
    ),
    (
        "northstar-telehealth",
        "Northstar Telehealth",
        "northstar-telehealth.example",
        ("Meera Iyer", "CISO", "meera"),
        "fit",
        [
            about(
                "Northstar Telehealth",
                """
Northstar Telehealth provides video consultations for 40 partner hospitals. Our platform processes PHI for every
consultation, and our security team of 18 sits within a company of 310 employees.
""",
            ),
            news(
                "2026-11-05",
                "Northstar funds audit readiness work",
                "audit-readiness",
                """
Northstar Telehealth announced on 5 November 2026 that part of its new funding goes to audit readiness and
automating compliance for its HIPAA and SOC 2 obligations.
""",
            ),
            post(
                "2026-10-12",
                "Evidence should not live in screenshots",
                "evidence-screenshots",
                """
Our CISO Meera Iyer explained why manual evidence in screenshots does not scale for a telehealth platform that
grows every month.
""",
            ),
        ],
    ),
    (
        "lumen-diagnostics",
        "Lumen Diagnostics",
        "lumen-diagnostics.example",
        ("Arjun Mehta", "VP Operations", "arjun.mehta"),
        "fit",
        [
            about(
                "Lumen Diagnostics",
                """
Lumen Diagnostics operates 9 diagnostics laboratories and handles clinical data for hospitals and clinics.
The company has 640 employees and a compliance officer for each region.
""",
            ),
            news(
                "2026-07-30",
                "Lumen starts compliance program refresh",
                "compliance-program",
                """
Lumen Diagnostics started a compliance program refresh on 30 July 2026, aiming at audit readiness for every
laboratory. Audit preparation today relies on spreadsheets maintained by each site.
""",
            ),
            careers("""
We are looking for a Compliance Analyst to join our quality and compliance team.
"""),
            post(
                "2026-06-15",
                "Lab operations in 2026",
                "lab-operations",
                """
Arjun Mehta, VP Operations, shared how the labs cut turnaround time by a fifth this year.
""",
            ),
        ],
    ),
    (
        "harborview-hospital-group",
        "Harborview Hospital Group",
        "harborview-hospital.example",
        ("Sofia Martins", "Head of Compliance", "s.martins"),
        "fit",
        [
            about(
                "Harborview Hospital Group",
                """
Harborview Hospital Group runs three hospitals and a rehabilitation centre. We employ 4,300 people and protect
patient data under HIPAA and national health privacy law.
""",
            ),
            news(
                "2026-09-09",
                "Harborview hires first Head of Compliance",
                "head-of-compliance",
                """
Harborview Hospital Group appointed Sofia Martins as its first Head of Compliance on 9 September 2026.
Her first priority is automating compliance evidence that is still collected manually before each inspection.
""",
            ),
            careers("""
Harborview is hiring two compliance engineers to build continuous compliance checks for clinical systems.
"""),
        ],
    ),
    (
        "pinecrest-pharmacy",
        "Pinecrest Pharmacy",
        "pinecrest-pharmacy.example",
        ("Rahul Desai", "Compliance Officer", "rahul.desai"),
        "fit",
        [
            about(
                "Pinecrest Pharmacy",
                """
Pinecrest Pharmacy is a pharmacy chain with 120 stores and a home delivery service. We hold patient records for
prescription services and employ 2,100 people.
""",
            ),
            news(
                "2026-10-20",
                "Pinecrest invests in audit readiness",
                "audit-readiness-investment",
                """
Pinecrest Pharmacy said on 20 October 2026 it will invest in audit readiness tooling after its last regulatory
audit took six weeks of manual work across stores. The compliance officer leads the project.
""",
            ),
            careers("""
Join us as a Privacy Officer for our prescription services.
"""),
        ],
    ),
    (
        "vitalpath-home-care",
        "VitalPath Home Care",
        "vitalpath-homecare.example",
        ("Grace Kim", "Director of Quality and Compliance", "grace.kim"),
        "fit",
        [
            about(
                "VitalPath Home Care",
                """
VitalPath Home Care sends nurses and therapists to patients at home in four cities. Our 530 employees record
clinical data on tablets at every visit.
""",
            ),
            post(
                "2026-08-02",
                "Why we are automating compliance",
                "automating-compliance",
                """
Grace Kim, our Director of Quality and Compliance, wrote that automating compliance is the only way to keep up
with visit volumes: audit prep currently means exporting spreadsheets from four systems.
""",
            ),
            news(
                "2026-08-25",
                "VitalPath expands to a fourth city",
                "fourth-city",
                """
VitalPath Home Care opened its fourth city on 25 August 2026, adding 80 nurses to the team.
""",
            ),
        ],
    ),
    (
        "riverbend-medical",
        "Riverbend Medical",
        "riverbend-medical.example",
        ("Thomas Berg", "CISO", "tberg"),
        "fit",
        [
            about(
                "Riverbend Medical",
                """
Riverbend Medical is a multi-specialty clinic group with 700 employees. We keep patient records for specialist
care in cardiology, orthopaedics and oncology.
""",
            ),
            news(
                "2026-11-12",
                "Riverbend security team starts continuous compliance",
                "continuous-compliance",
                """
Riverbend Medical's security team began a continuous compliance project on 12 November 2026 to replace manual
quarterly audit preparation.
""",
            ),
            careers("""
Riverbend is hiring a GRC lead to work with our CISO on HIPAA controls.
"""),
        ],
    ),
    (
        "clearwave-imaging",
        "ClearWave Imaging",
        "clearwave-imaging.example",
        ("Nadia Rahman", "Compliance Officer", "nadia.rahman"),
        "fit",
        [
            about(
                "ClearWave Imaging",
                """
ClearWave Imaging runs 17 medical imaging centres. Our 390 employees handle PHI for every scan we perform.
""",
            ),
            news(
                "2026-09-28",
                "ClearWave sets out audit readiness goals",
                "audit-readiness-goals",
                """
ClearWave Imaging set out audit readiness goals on 28 September 2026, including evidence collection that no longer
depends on spreadsheets kept by each centre. Our compliance officer presented the plan to the board.
""",
            ),
            post(
                "2026-10-30",
                "Imaging and privacy",
                "imaging-privacy",
                """
Nadia Rahman wrote about the privacy rules that apply to imaging data shared with referring doctors.
""",
            ),
        ],
    ),
    (
        "sunridge-behavioral-health",
        "Sunridge Behavioral Health",
        "sunridge-bh.example",
        ("Leila Haddad", "Head of Compliance", "leila.haddad"),
        "fit",
        [
            about(
                "Sunridge Behavioral Health",
                """
Sunridge Behavioral Health offers outpatient mental health care at 11 clinics. We employ 450 people and protect
health records that carry extra confidentiality duties.
""",
            ),
            news(
                "2026-06-30",
                "Sunridge names compliance automation a 2026 priority",
                "priorities-2026",
                """
Sunridge Behavioral Health named compliance automation one of its three priorities for the second half of 2026,
after its last audit needed manual evidence from every clinic. The compliance team will lead it.
""",
            ),
            careers("""
We are hiring a compliance analyst for our central compliance team.
"""),
        ],
    ),
    (
        "quietwater-hospice",
        "Quietwater Hospice",
        "quietwater-hospice.example",
        ("Hannah Cole", "Compliance Officer", "hannah.cole"),
        "fit",
        [
            about(
                "Quietwater Hospice",
                """
Quietwater Hospice provides hospice care at home and in two inpatient units. We have 260 employees and keep
health records for every patient and family we support.
""",
            ),
            news(
                "2026-10-08",
                "Quietwater starts its compliance program",
                "compliance-program",
                """
Quietwater Hospice started a compliance program on 8 October 2026 to prepare for accreditation, with audit
readiness as its measure of success. Today audit prep is manual and takes weeks.
""",
            ),
            careers("""
Quietwater is hiring a privacy officer to support our compliance officer.
"""),
        ],
    ),
    (
        "bayside-pediatrics",
        "Bayside Pediatrics",
        "bayside-pediatrics.example",
        ("Omar Farouk", "Practice Director", "omar"),
        "fit",
        [
            about(
                "Bayside Pediatrics",
                """
Bayside Pediatrics is a paediatric clinic group with 8 clinics and 180 employees. We look after patient records
for 60,000 children.
""",
            ),
            post(
                "2026-09-02",
                "Audit season without the spreadsheets",
                "audit-season",
                """
Omar Farouk, our Practice Director, wrote that this year's audit season will be the last one run on
spreadsheets: we are automating compliance evidence with our new compliance team.
""",
            ),
            news(
                "2026-07-14",
                "Bayside opens its eighth clinic",
                "eighth-clinic",
                """
Bayside Pediatrics opened its eighth clinic on 14 July 2026.
""",
            ),
        ],
    ),
    # ---------------------------------------------------------------- not a fit at profile time
    (
        "ledgerly",
        "Ledgerly",
        "ledgerly.example",
        ("Chris Walker", "Head of Compliance", "chris"),
        "not a fit: fintech, outside the segment",
        [
            about(
                "Ledgerly",
                """
Ledgerly is a fintech company that builds accounting software for small businesses. We employ 240 people.
""",
            ),
            news(
                "2026-10-15",
                "Ledgerly starts SOC 2 compliance automation",
                "soc2",
                """
Ledgerly began compliance automation for its SOC 2 audit on 15 October 2026, replacing spreadsheets with automated
evidence collection.
""",
            ),
            careers("""
We are hiring a GRC analyst for our compliance team.
"""),
        ],
    ),
    (
        "cartwheel-logistics",
        "Cartwheel Logistics",
        "cartwheel-logistics.example",
        ("Ines Duarte", "CISO", "ines.duarte"),
        "not a fit: logistics, outside the segment",
        [
            about(
                "Cartwheel Logistics",
                """
Cartwheel Logistics is a freight and logistics company moving goods across 30 warehouses with 3,000 employees.
""",
            ),
            news(
                "2026-09-19",
                "Cartwheel pursues continuous compliance",
                "continuous-compliance",
                """
Cartwheel Logistics announced continuous compliance for customs and security audits on 19 September 2026.
""",
            ),
            post(
                "2026-08-08",
                "Manual evidence in logistics",
                "manual-evidence",
                """
Ines Duarte, our CISO, wrote about manual evidence collection for customs audits.
""",
            ),
        ],
    ),
    (
        "auditly-health",
        "Auditly Health",
        "auditly-health.example",
        ("Ben Adler", "CEO", "ben"),
        "not a fit: competitor",
        [
            about(
                "Auditly Health",
                """
Auditly Health builds our compliance automation platform for hospitals and clinics. We employ 90 people and our
customers use us for HIPAA audit readiness.
""",
            ),
            news(
                "2026-10-27",
                "Auditly raises a Series A",
                "series-a",
                """
Auditly Health raised a Series A on 27 October 2026 to grow our compliance automation platform for healthcare.
""",
            ),
            careers("""
We are hiring a compliance engineer to build integrations with health records systems.
"""),
        ],
    ),
    (
        "tinyclinic",
        "TinyClinic",
        "tinyclinic.example",
        ("Maya Singh", "Founder", "maya"),
        "not a fit: too small",
        [
            about(
                "TinyClinic",
                """
TinyClinic is a single physiotherapy and general practice clinic with 12 employees. We keep patient records on a
cloud system.
""",
            ),
            news(
                "2026-09-05",
                "TinyClinic looks at audit readiness",
                "audit-readiness",
                """
TinyClinic said on 5 September 2026 that it wants audit readiness before its first HIPAA review, and is
reviewing compliance automation tools.
""",
            ),
            careers("""
No open roles at the moment.
"""),
        ],
    ),
    (
        "meridian-health-systems",
        "Meridian Health Systems",
        "meridian-health.example",
        ("Victor Hugo Lima", "Head of Compliance", "victor.lima"),
        "not a fit: being acquired",
        [
            about(
                "Meridian Health Systems",
                """
Meridian Health Systems runs five hospitals with 5,200 employees and a central compliance team that protects
patient data across all sites.
""",
            ),
            news(
                "2026-10-11",
                "Meridian plans continuous compliance",
                "continuous-compliance",
                """
Meridian Health Systems outlined a continuous compliance program on 11 October 2026 to end manual audit preparation.
""",
            ),
            news(
                "2026-11-03",
                "Meridian enters definitive agreement",
                "agreement",
                """
Meridian Health Systems entered a definitive agreement to be acquired by a national hospital operator on
3 November 2026; the deal is expected to close in 2027.
""",
            ),
        ],
    ),
    (
        "novacare-labs",
        "NovaCare Labs",
        "novacare-labs.example",
        ("Eva Novak", "Operations Manager", "eva.novak"),
        "not a fit: below the rubric threshold",
        [
            about(
                "NovaCare Labs",
                """
NovaCare Labs is a medical device testing company with 150 employees. We test devices for hospitals and clinics.
""",
            ),
            news(
                "2026-10-01",
                "NovaCare earns a new certification",
                "certification",
                """
NovaCare Labs completed an external audit on 1 October 2026 and mentioned a compliance program for its test lab.
""",
            ),
            careers("""
We are hiring test engineers for our device laboratory.
"""),
        ],
    ),
    (
        "helix-biotech",
        "Helix Biotech Research",
        "helix-biotech.example",
        ("Sara Lindqvist", "Head of Quality", "sara"),
        "not a fit: biotech research, outside the segment",
        [
            about(
                "Helix Biotech Research",
                """
Helix Biotech Research is a biotechnology research company developing enzyme therapies, with 210 employees.
""",
            ),
            news(
                "2026-09-22",
                "Helix automates compliance for lab quality",
                "quality",
                """
Helix Biotech Research began automating compliance for its laboratory quality system on 22 September 2026.
""",
            ),
            careers("""
We are hiring a compliance analyst for good laboratory practice records.
"""),
        ],
    ),
    (
        "silverline-insurance",
        "Silverline Insurance",
        "silverline-insurance.example",
        ("Kofi Mensah", "Compliance Officer", "kofi.mensah"),
        "not a fit: insurance, outside the segment",
        [
            about(
                "Silverline Insurance",
                """
Silverline Insurance is an insurance company for small businesses with 800 employees.
""",
            ),
            news(
                "2026-08-12",
                "Silverline speeds up regulatory reporting",
                "regulatory-reporting",
                """
Silverline Insurance said on 12 August 2026 that regulatory reporting must become less manual, and started a
compliance automation program.
""",
            ),
            careers("""
Silverline is hiring a GRC analyst.
"""),
        ],
    ),
    # ---------------------------------------------------------------- rejected at discovery (no recent signal)
    (
        "brightboard-learning",
        "Brightboard Learning",
        "brightboard.example",
        ("Lucas Brown", "CTO", "lucas"),
        "rejected at discovery: no signal",
        [
            about(
                "Brightboard Learning",
                """
Brightboard Learning is an education technology company with 120 employees building classroom software.
""",
            ),
            news(
                "2026-10-05",
                "Brightboard launches a new reading app",
                "reading-app",
                """
Brightboard Learning launched a reading app for primary schools on 5 October 2026.
""",
            ),
            careers("""
We are hiring front-end engineers.
"""),
        ],
    ),
    (
        "oakmont-health-partners",
        "Oakmont Health Partners",
        "oakmont-health.example",
        ("Rita Chowdhury", "Compliance Officer", "rita"),
        "rejected at discovery: stale signal",
        [
            about(
                "Oakmont Health Partners",
                """
Oakmont Health Partners is a clinic network with 300 employees that keeps patient records for rural communities.
""",
            ),
            news(
                "2025-01-20",
                "Oakmont talks compliance automation",
                "compliance-2025",
                """
Oakmont Health Partners said on 20 January 2025 that it was evaluating compliance automation for audit readiness.
""",
            ),
            news(
                "2026-10-18",
                "Oakmont opens a rural mobile clinic",
                "mobile-clinic",
                """
Oakmont Health Partners opened a mobile clinic for rural communities on 18 October 2026.
""",
            ),
        ],
    ),
    (
        "greenleaf-dental",
        "Greenleaf Dental",
        "greenleaf-dental.example",
        ("Paul Jensen", "Practice Manager", "paul"),
        "rejected at discovery: no signal",
        [
            about(
                "Greenleaf Dental",
                """
Greenleaf Dental is a dental clinic group with 6 practices and 95 employees.
""",
            ),
            news(
                "2026-09-30",
                "Greenleaf opens in the city centre",
                "city-centre",
                """
Greenleaf Dental opened its sixth practice in the city centre on 30 September 2026, with late opening hours.
""",
            ),
            careers("""
We are hiring dental nurses and a receptionist.
"""),
        ],
    ),
    (
        "swiftcart",
        "SwiftCart",
        "swiftcart.example",
        ("Jade Thompson", "VP Growth", "jade"),
        "rejected at discovery: no signal",
        [
            about(
                "SwiftCart",
                """
SwiftCart is an e-commerce retail company selling home goods online, with 400 employees.
""",
            ),
            news(
                "2026-11-01",
                "SwiftCart launches same-day delivery",
                "same-day",
                """
SwiftCart launched same-day delivery in three cities on 1 November 2026.
""",
            ),
            careers("""
We are hiring warehouse supervisors.
"""),
        ],
    ),
    (
        "coastal-physio",
        "Coastal Physio",
        "coastal-physio.example",
        ("Nina Petrova", "Clinic Director", "nina"),
        "rejected at discovery: off-topic news",
        [
            about(
                "Coastal Physio",
                """
Coastal Physio is a physiotherapy clinic group with 4 clinics and 70 employees, caring for patients after sports
injuries.
""",
            ),
            post(
                "2026-10-22",
                "Our new marketing campaign",
                "campaign",
                """
Nina Petrova wrote about our new marketing campaign with local football clubs.
""",
            ),
            news(
                "2026-08-03",
                "Coastal Physio sponsors the marathon",
                "marathon",
                """
Coastal Physio sponsored the city marathon on 3 August 2026.
""",
            ),
        ],
    ),
    # ---------------------------------------------------------------- dead letter: a page that extracts badly
    (
        "sparrow-health",
        "Sparrow Health",
        "sparrow-health.example",
        ("Ivan Petrov", "Head of Compliance", "ivan"),
        "dead letter: the about page extracts as one run-on block",
        [
            about(
                "Sparrow Health",
                "Sparrow Health home care clinics "
                + " ".join(
                    f"menu item {i} patient records portal careers locations contact press blog team"
                    for i in range(1, 25)
                )
                + ".",
            ),
            news(
                "2026-10-25",
                "Sparrow Health starts compliance automation",
                "compliance-automation",
                """
Sparrow Health started compliance automation for audit readiness on 25 October 2026.
""",
            ),
            careers("""
Sparrow Health is hiring a compliance analyst for its home care clinics.
"""),
        ],
    ),
    (
        "kestrel-medical-billing",
        "Kestrel Medical Billing",
        "kestrel-billing.example",
        ("Aisha Bello", "Head of Compliance", "aisha.bello"),
        "fit: medical billing, handles PHI",
        [
            about(
                "Kestrel Medical Billing",
                """
Kestrel Medical Billing processes claims for 300 clinics and handles PHI for millions of patient visits a year.
We employ 520 people and a compliance team of 12.
""",
            ),
            news(
                "2026-11-10",
                "Kestrel hires compliance engineers",
                "compliance-engineers",
                """
Kestrel Medical Billing is hiring three compliance engineers to build continuous compliance checks, its
announcement on 10 November 2026 said. Audit prep still runs on spreadsheets today.
""",
            ),
            careers("""
Open roles: Compliance Engineer (three positions), working with the compliance team on HIPAA evidence.
"""),
            post(
                "2026-10-28",
                "Billing and privacy",
                "billing-privacy",
                """
Aisha Bello, Head of Compliance, wrote that claims data is health data and deserves the same audit trail as a
hospital record.
""",
            ),
        ],
    ),
]


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    (OUT / "manifest.yaml").write_text(
        "# Synthetic offline corpus: a snapshot of company pages as a fetcher would have seen them.\n"
        f"snapshot_at: {SNAPSHOT}\n"
        "generated_by: scripts/build_sample_corpus.py\n",
        encoding="utf-8",
    )
    for folder, name, domain, contact, note, docs in COMPANIES:
        target = OUT / folder
        target.mkdir()
        lines = [f"name: {name}", f"domain: {domain!r}", f"note: {note!r}"]
        if contact:
            bare = domain.lower().replace("https://", "").replace("www.", "").strip("/")
            lines += [
                "contact:",
                f"  name: {contact[0]}",
                f"  role: {contact[1]}",
                f"  email: {contact[2]}@{bare}",
            ]
        (target / "company.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for index, item in enumerate(docs, start=1):
            stem = f"{index:02d}-{item['kind']}"
            front = [f"kind: {item['kind']}", f"title: {item['title']!r}", f"path: {item['path']}"]
            if item["published"]:
                front.append(f"published: {item['published']}")
            text = "---\n" + "\n".join(front) + "\n---\n" + str(item["text"]) + "\n"
            (target / f"{stem}.md").write_text(text, encoding="utf-8")
    print(f"wrote {len(COMPANIES)} companies to {OUT}")


if __name__ == "__main__":
    main()
