//! A structured document as it arrives attached to a message: an IHE_XDM.ZIP archive (the zip,
//! its METADATA.XML, the CDA it names), a bare CDA (header, narrative made HTML, a level-1
//! document's embedded file), and the delivery and read reports about sent mail.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(archive) = confiance_segur::Archive::read(data.to_vec()) {
        for d in &archive.documents {
            let _ = (d.ins(), d.type_label(), d.patient_name(), d.invisible_to_patient());
        }
    }
    if let Ok(doc) = confiance_segur::Document::from_cda("x.xml", data) {
        let _ = doc.cda.map(|c| c.sections.len());
    }
    let _ = confiance_segur::Metadata::read(data);
    let _ = confiance_mail::reports::read(data);
});
