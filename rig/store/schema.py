"""The rig.db schema as forward-only migrations (sqlite-utils ``Migrations``).

Designed for the whole pipeline, not only import:

    files ─< sources ─< labels            (library: what can be displayed)
    patients ─< studies ─< sources        (pseudonymous ids only, never PHI)
    sources ─< frames                     (rendered 8-bit ground truth + how)
    sessions ─< items ─< captures ─ registrations
    sessions ─< calibrations, events      (event log of everything that happened)
    splits                                (patient → train/valid/test, kept across exports)

A migration is never edited once released: change the schema by appending one.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("rig")


@MIGRATIONS(name="m001_initial")
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE files (
            sha256 TEXT PRIMARY KEY,          -- hash of the file as given (dedupe key)
            object_sha256 TEXT NOT NULL,      -- de-identified copy in objects/
            kind TEXT NOT NULL,               -- 'dicom' | 'raster'
            size_bytes INTEGER NOT NULL,
            path_key TEXT NOT NULL,           -- keyed hash of the path given (no raw paths)
            imported_at TEXT NOT NULL
        );
        CREATE TABLE patients (
            id TEXT PRIMARY KEY,              -- keyed hash of PatientID (or of the file)
            created_at TEXT NOT NULL
        );
        CREATE TABLE studies (
            id TEXT PRIMARY KEY,              -- keyed hash of StudyInstanceUID
            patient_id TEXT NOT NULL REFERENCES patients(id),
            created_at TEXT NOT NULL
        );
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            file_sha256 TEXT NOT NULL REFERENCES files(sha256),
            frame INTEGER NOT NULL,           -- 0-based frame within the file
            n_frames INTEGER NOT NULL,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            study_id TEXT NOT NULL REFERENCES studies(id),
            view TEXT,                        -- e.g. ViewPosition PA/AP/LL, or 'frontal'
            modality TEXT,
            photometric TEXT,
            rows INTEGER NOT NULL,
            columns INTEGER NOT NULL,
            bits_stored INTEGER NOT NULL,
            samples_per_pixel INTEGER NOT NULL,
            transfer_syntax TEXT,
            imported_at TEXT NOT NULL,
            UNIQUE (file_sha256, frame)
        );
        CREATE TABLE labels (
            source_id INTEGER NOT NULL REFERENCES sources(id),
            name TEXT NOT NULL,
            value REAL,                       -- 1 / 0 / -1 (uncertain) / NULL (blank)
            origin TEXT NOT NULL,             -- which labels file (keyed hash of its path)
            PRIMARY KEY (source_id, name)
        );
        CREATE TABLE frames (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            render_key TEXT NOT NULL,         -- hash of the render options
            object_sha256 TEXT NOT NULL,      -- the 8-bit PNG in objects/
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            channels INTEGER NOT NULL,
            facts TEXT NOT NULL,              -- JSON: window, function, polarity, decoder
            created_at TEXT NOT NULL,
            UNIQUE (source_id, render_key)
        );
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,              -- planned|running|paused|finished|failed
            plan TEXT NOT NULL,               -- JSON capture plan
            camera TEXT NOT NULL,             -- camera URL
            layout TEXT,                      -- JSON fiducial layout
            conditions TEXT,                  -- JSON operator-entered conditions
            pairing TEXT,                     -- JSON: port(s) and key kept for resume
            reconciliation TEXT,              -- JSON, written at the end
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE items (
            session_id TEXT NOT NULL REFERENCES sessions(id),
            idx INTEGER NOT NULL,             -- position in the session, 0-based
            source_id INTEGER NOT NULL REFERENCES sources(id),
            frame_id INTEGER REFERENCES frames(id),
            repeat INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL,              -- pending|shown|verified|failed
            conditions TEXT,                  -- JSON conditions actually set
            PRIMARY KEY (session_id, idx)
        );
        CREATE TABLE captures (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            state TEXT NOT NULL,              -- requested|stored|verified|rejected|failed
            photo_sha256 TEXT,
            reason TEXT,                      -- why rejected / failed
            requested_at TEXT NOT NULL,
            stored_at TEXT,
            conditions TEXT,                  -- JSON conditions + sensor readings
            device TEXT,                      -- JSON camera/phone facts (no patient data)
            UNIQUE (session_id, idx, attempt),
            FOREIGN KEY (session_id, idx) REFERENCES items(session_id, idx)
        );
        CREATE TABLE registrations (
            capture_id INTEGER PRIMARY KEY REFERENCES captures(id),
            mapping TEXT NOT NULL,            -- JSON homography / distortion model
            reproj_err_px REAL,
            residual_px REAL,
            psnr_db REAL,
            ssim REAL,
            verdict TEXT NOT NULL,            -- accepted|rejected
            reason TEXT,
            frame_code TEXT,                  -- JSON decoded frame code
            aligned_sha256 TEXT,
            mask_sha256 TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE calibrations (
            id INTEGER PRIMARY KEY,
            session_id TEXT REFERENCES sessions(id),
            kind TEXT NOT NULL,               -- geometry|photometric|intrinsics
            data TEXT NOT NULL,               -- JSON
            created_at TEXT NOT NULL
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            session_id TEXT,                  -- NULL for project-level events (imports)
            ts REAL NOT NULL,                 -- unix time, seconds
            kind TEXT NOT NULL,
            idx INTEGER,
            attempt INTEGER,
            data TEXT                         -- JSON, never patient data
        );
        CREATE INDEX events_session ON events(session_id, id);
        CREATE INDEX sources_patient ON sources(patient_id);
        CREATE INDEX captures_item ON captures(session_id, idx);
        """
    )


@MIGRATIONS(name="m002_splits")
def m002_splits(db: Database) -> None:
    # Patient-level splits are stored so later exports keep every patient where it was.
    db.executescript(
        """
        CREATE TABLE splits (
            patient_id TEXT NOT NULL REFERENCES patients(id),
            scheme TEXT NOT NULL,             -- e.g. 'train=0.8,valid=0.1,test=0.1;seed=0'
            split TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (patient_id, scheme)
        );
        """
    )


@MIGRATIONS(name="m003_session_states")
def m003_session_states(db: Database) -> None:
    # Session states are exactly planned|running|paused|finished|failed|aborted
    # (rig.session.states); why a session is paused or failed is its `reason`. The old
    # 'stopped' and 'awaiting-import' states become paused sessions with their reason.
    # Session-level capture events got names distinct from the protocol's (Photo* →
    # Capture*), so recorded sessions and replays still compare step by step.
    db.executescript(
        """
        ALTER TABLE sessions ADD COLUMN reason TEXT;
        ALTER TABLE items ADD COLUMN reason TEXT;
        UPDATE sessions SET state = 'paused', reason = 'stopped by operator'
            WHERE state = 'stopped';
        UPDATE sessions SET state = 'paused', reason = 'awaiting rig import-photos'
            WHERE state = 'awaiting-import';
        UPDATE events SET kind = 'CaptureStored' WHERE kind = 'PhotoStored';
        UPDATE events SET kind = 'CapturePending' WHERE kind = 'PhotoPending';
        UPDATE events SET kind = 'CaptureVerified' WHERE kind = 'PhotoVerified';
        UPDATE events SET kind = 'CaptureRejected' WHERE kind = 'PhotoRejected';
        UPDATE events SET kind = 'SessionStarted' WHERE kind = 'SessionRunning';
        """
    )


@MIGRATIONS(name="m004_quality")
def m004_quality(db: Database) -> None:
    # Issue 17: automatic full-reference grades per verified capture, and human ratings.
    # "photo" is the exported pair id (<session>-<idx:05d>-a<attempt>), the name raters see.
    db.executescript(
        """
        CREATE TABLE quality_grades (
            capture_id INTEGER PRIMARY KEY REFERENCES captures(id),
            photo TEXT NOT NULL UNIQUE,
            grade INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 4),
            figures TEXT NOT NULL,            -- JSON PairFigures
            reasons TEXT NOT NULL,            -- JSON list of sentences, worst first
            cutoffs TEXT NOT NULL,            -- JSON [quality] settings used
            created_at TEXT NOT NULL
        );
        CREATE TABLE quality_ratings (
            rater TEXT NOT NULL,              -- a rater's chosen handle, never a patient's
            photo TEXT NOT NULL,
            grade INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 4),
            origin TEXT NOT NULL,             -- 'rate' (the window) | 'import:<csv name>'
            created_at TEXT NOT NULL,
            PRIMARY KEY (rater, photo)
        );
        """
    )


@MIGRATIONS(name="m005_burned_in_text")
def m005_burned_in_text(db: Database) -> None:
    # Issue 23: what the burned-in text check did to each source. Sources imported
    # before it have no row: they count as unchecked, never as clear.
    db.executescript(
        """
        CREATE TABLE burned_in (
            source_id INTEGER PRIMARY KEY REFERENCES sources(id),
            mode TEXT NOT NULL,               -- rig import --burned-in: mask|exclude|keep
            at_risk INTEGER NOT NULL,         -- 1: modality/SOP class/BurnedInAnnotation/raster
            reason TEXT NOT NULL,             -- e.g. 'modality US', 'BurnedInAnnotation NO'
            status TEXT NOT NULL,             -- not_at_risk|clear|masked|kept
            regions TEXT NOT NULL,            -- JSON [[x, y, w, h], ...] masked in the pixel data
            engine TEXT,                      -- OCR engine and version; NULL when not read
            checked_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="m006_capture_scores")
def m006_capture_scores(db: Database) -> None:
    # Issues 16 and 17: what a learned model said of a capture, scored in the background
    # during the session (--quality-gate: p_bad, grade; --classifier: one P per label).
    db.executescript(
        """
        CREATE TABLE capture_scores (
            capture_id INTEGER NOT NULL REFERENCES captures(id),
            kind TEXT NOT NULL,               -- 'quality' | 'classify'
            run TEXT NOT NULL,                -- the run folder that scored it
            scores TEXT NOT NULL,             -- JSON {name: number}
            error TEXT,                       -- why it could not be scored (scores {})
            created_at TEXT NOT NULL,
            PRIMARY KEY (capture_id, kind)
        );
        """
    )


@MIGRATIONS(name="m007_rigs")
def m007_rigs(db: Database) -> None:
    # Issue 24: a research project merged from several rigs' projects (`rig merge`).
    # Each merged session remembers the rig and the session it came from, so merging
    # again adds nothing (origin_key) and a source session that changed since is copied
    # again (digest of its rows).
    db.executescript(
        """
        CREATE TABLE rigs (
            name TEXT PRIMARY KEY,            -- rig.toml [rig] name (else the project's name)
            monitor TEXT NOT NULL,            -- rig.toml [rig] monitor ('' when not set)
            room TEXT NOT NULL,
            screen TEXT NOT NULL,             -- rig.toml [display] WxH
            merged_at TEXT NOT NULL
        );
        CREATE TABLE merged_sessions (
            -- rig session delete in the research project takes its provenance along
            session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
            rig TEXT NOT NULL REFERENCES rigs(name),
            origin_session_id TEXT NOT NULL,  -- its id on the rig (ids clash: renamed here)
            origin_key TEXT NOT NULL UNIQUE,  -- hash of rig, origin id, creation time
            digest TEXT NOT NULL,             -- hash of its rows when merged
            merged_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="m008_gate_decisions")
def m008_gate_decisions(db: Database) -> None:
    # Issue 17: the quality gate's decision on a photo, stored when it decides, so that
    # 'session show' counts exactly what the gate did (its sharpness is relative to the
    # session's best shots, which the stored absolute figures cannot replay).
    db.executescript(
        """
        CREATE TABLE gate_decisions (
            capture_id INTEGER PRIMARY KEY REFERENCES captures(id),
            gate TEXT NOT NULL,               -- 'grade' (full reference) | 'learned' (P(bad))
            retake INTEGER NOT NULL,          -- 1: refused, the item is retaken
            figures TEXT NOT NULL,            -- JSON list: the failing figures, or ["p_bad"]
            reason TEXT,                      -- the refusal in words
            created_at TEXT NOT NULL
        );
        """
    )
