"""De-identification: PS3.15 Annex E Basic Application Level Confidentiality Profile.

Identifiers never reach the database, object files, filenames, logs or exports.
What rig keeps instead is a stable *pseudonym*: a keyed hash (HMAC-SHA256 with the
per-project secret) of PatientID / StudyInstanceUID, so patient-level splits work
while nobody without the secret can link a pseudonym back to a patient.

Policy (documented in docs/ARCHITECTURE.md):
- Attributes of Table E.1-1 that identify people, places, devices or times are
  removed (X) or emptied (Z); UIDs are replaced (U) by keyed ``2.25.`` UIDs so
  references inside the project stay consistent; private tags are removed.
- Pixel data is untouched (burned-in annotations cannot be removed by a header
  profile; sources with BurnedInAnnotation=YES are flagged at import).
- Overlay planes (60xx3000) are retained so they can be burned in on request;
  overlay descriptions/labels (free text) are removed.
"""

from __future__ import annotations

import hashlib
import hmac

from pydicom.dataset import Dataset

# Keywords from PS3.15 Table E.1-1 that the Basic Profile removes or empties
# (X, Z, X/Z, X/D, Z/D, X/Z/D); dates and times are emptied rather than shifted.
REMOVE_KEYWORDS = (
    "AccessionNumber", "AcquisitionComments", "AcquisitionDate", "AcquisitionDateTime",
    "AcquisitionDeviceProcessingDescription", "AcquisitionTime", "AdditionalPatientHistory",
    "AdmissionID", "AdmittingDiagnosesDescription", "AdmittingDate", "AdmittingTime",
    "Allergies", "Arbitrary", "AuthorObserverSequence", "BranchOfService",
    "CommentsOnThePerformedProcedureStep", "ConfidentialityConstraintOnPatientDataDescription",
    "ContentCreatorName", "ContentDate", "ContentTime", "ContributionDescription",
    "CountryOfResidence", "CurrentPatientLocation", "CurveDate", "CurveTime",
    "DerivationDescription", "DeviceSerialNumber", "DeviceDescription", "DischargeDate",
    "EthnicGroup", "FrameComments", "GantryID", "GeneratorID", "IconImageSequence",
    "IdentifyingComments", "ImageComments", "ImagePresentationComments",
    "ImagingServiceRequestComments", "Impressions", "InstanceCreationDate",
    "InstanceCreationTime", "InstitutionAddress", "InstitutionCodeSequence",
    "InstitutionName", "InstitutionalDepartmentName", "InsurancePlanIdentification",
    "IntendedRecipientsOfResultsIdentificationSequence", "InterpretationApproverSequence",
    "InterpretationAuthor", "InterpretationDiagnosisDescription",
    "InterpretationIDIssuer", "InterpretationRecorder", "InterpretationText",
    "InterpretationTranscriber", "IssuerOfAdmissionID", "IssuerOfPatientID",
    "MedicalAlerts", "MedicalRecordLocator", "MilitaryRank", "ModifiedAttributesSequence",
    "ModifyingDeviceID", "ModifyingDeviceManufacturer", "NameOfPhysiciansReadingStudy",
    "NamesOfIntendedRecipientsOfResults", "Occupation", "OperatorsName",
    "OperatorIdentificationSequence", "OriginalAttributesSequence", "OrderCallbackPhoneNumber",
    "OrderEnteredBy", "OrderEntererLocation", "OtherPatientIDs", "OtherPatientIDsSequence",
    "OtherPatientNames", "ParticipantSequence", "PatientAddress", "PatientAge",
    "PatientBirthDate", "PatientBirthName", "PatientBirthTime", "PatientComments",
    "PatientInstitutionResidence", "PatientInsurancePlanCodeSequence",
    "PatientMotherBirthName", "PatientPrimaryLanguageCodeSequence",
    "PatientReligiousPreference", "PatientSize", "PatientState", "PatientTelephoneNumbers",
    "PatientWeight", "PatientSexNeutered", "PerformedLocation",
    "PerformedProcedureStepDescription", "PerformedProcedureStepID",
    "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
    "PerformingPhysicianIdentificationSequence", "PerformingPhysicianName",
    "PersonAddress", "PersonIdentificationCodeSequence", "PersonName",
    "PersonTelephoneNumbers", "PhysicianApprovingInterpretation",
    "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "PhysiciansReadingStudyIdentificationSequence", "PlateID", "PreMedication",
    "PregnancyStatus", "ReasonForStudy", "ReasonForTheRequestedProcedure",
    "ReferringPhysicianAddress", "ReferringPhysicianIdentificationSequence",
    "ReferringPhysicianName", "ReferringPhysicianTelephoneNumbers", "RegionOfResidence",
    "RequestAttributesSequence", "RequestedProcedureComments", "RequestedProcedureID",
    "RequestedProcedureLocation", "RequestingPhysician", "RequestingService",
    "ResponsibleOrganization", "ResponsiblePerson", "ResultsComments",
    "ResultsDistributionListSequence", "ResultsIDIssuer", "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription", "ScheduledProcedureStepEndDate",
    "ScheduledProcedureStepEndTime", "ScheduledProcedureStepLocation",
    "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime",
    "ScheduledStationAETitle", "ScheduledStationName", "SeriesDate", "SeriesDescription",
    "SeriesTime", "ServiceEpisodeDescription", "ServiceEpisodeID", "SmokingStatus",
    "SpecialNeeds", "StationName", "StudyComments", "StudyDate", "StudyDescription",
    "StudyID", "StudyIDIssuer", "StudyTime", "TextComments", "TextString",
    "TimezoneOffsetFromUTC", "TopicAuthor", "TopicKeywords", "TopicSubject", "TopicTitle",
    "VerifyingObserverIdentificationCodeSequence", "VerifyingObserverName",
    "VerifyingObserverSequence", "VerifyingOrganization", "VisitComments",
    "ReferencedPatientSequence", "ReferencedStudySequence",
    "ReferencedPerformedProcedureStepSequence", "RequestedProcedureDescription",
)  # fmt: skip

# UIDs replaced (U) by keyed UIDs; FrameOfReferenceUID etc. keep relations intact.
REPLACE_UID_KEYWORDS = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "SynchronizationFrameOfReferenceUID", "IrradiationEventUID", "ConcatenationUID",
    "DimensionOrganizationUID", "TargetUID", "StorageMediaFileSetUID",
)  # fmt: skip


def pseudonym(secret: bytes, kind: str, value: str, length: int = 16) -> str:
    """Stable keyed pseudonym, e.g. ``P-3f9c…`` for kind 'patient'."""
    digest = hmac.new(secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    prefix = {"patient": "P", "study": "S", "path": "F", "series": "R"}.get(kind, kind[:1].upper())
    return f"{prefix}-{digest[:length]}"


def keyed_uid(secret: bytes, uid: str) -> str:
    """Replacement UID under the 2.25 root (PS3.5 B.2): a decimal of a 128-bit keyed hash."""
    digest = hmac.new(secret, f"uid\x00{uid}".encode(), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def deidentify(ds: Dataset, secret: bytes, patient_id: str, study_id: str) -> Dataset:
    """Apply the Basic Profile in place and return ``ds``.

    ``patient_id`` / ``study_id`` are the pseudonyms already derived for this file;
    they replace PatientID/PatientName and StudyID so the copy stays self-describing.
    """
    ds.remove_private_tags()
    for keyword in REMOVE_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    _remove_overlay_text(ds)
    _scrub(ds, secret)
    _scrub_sequences(ds, secret)
    ds.PatientID = patient_id
    ds.PatientName = patient_id
    ds.StudyID = study_id[:16]
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "rig: PS3.15 Basic Application Level Confidentiality Profile"
    if hasattr(ds, "file_meta") and "MediaStorageSOPInstanceUID" in ds.file_meta:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", keyed_uid(secret, "x"))
    return ds


# Free-text elements of the repeating overlay groups 60xx (PS3.3 C.9.2):
# description, label and comments; the overlay bits themselves are kept.
OVERLAY_TEXT_ELEMENTS = (0x0022, 0x1500, 0x4000)


def _remove_overlay_text(ds: Dataset) -> None:
    for group in range(0x6000, 0x6020, 2):
        for element in OVERLAY_TEXT_ELEMENTS:
            tag = (group << 16) | element
            if tag in ds:
                del ds[tag]


def _scrub_sequences(ds: Dataset, secret: bytes) -> None:
    """Apply the same removals inside every nested sequence item (e.g. functional groups)."""
    for element in list(ds):
        if element.VR == "SQ":
            for item in element.value:
                for keyword in REMOVE_KEYWORDS:
                    if keyword in item:
                        delattr(item, keyword)
                _scrub(item, secret)
                _scrub_sequences(item, secret)


def _scrub(ds: Dataset, secret: bytes) -> None:
    """Replace the UIDs of one dataset level by keyed UIDs."""
    for keyword in REPLACE_UID_KEYWORDS:
        value = ds.get(keyword)
        if value:
            setattr(ds, keyword, keyed_uid(secret, str(value)))
