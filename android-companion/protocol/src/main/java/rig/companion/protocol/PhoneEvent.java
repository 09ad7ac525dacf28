package rig.companion.protocol;

/** Events the phone machine emits (docs/protocol.md §8), past tense. */
public interface PhoneEvent {
    /** The first HELLO_ACK: the desktop will request {@code next}. */
    record Connected(int next) implements PhoneEvent {}

    /** Shoot (index, attempt) now; report with photoSaved / cameraFailed. */
    record ShootRequested(int index, int attempt, String tag) implements PhoneEvent {}

    /** Upload the saved photo; report with uploadFinished. */
    record UploadRequested(int index, int attempt, String sha256, int size) implements PhoneEvent {}

    /** The cursor moved from {@code old} to {@code next} on the desktop's word. */
    record Resynced(int old, int next) implements PhoneEvent {}

    /** Nothing heard for desktop_timeout_s: back to CONNECTING. */
    record DesktopLost() implements PhoneEvent {}

    /** The desktop confirmed it stored the photo (HTTP answer or STORED). */
    record PhotoStored(int index, int attempt) implements PhoneEvent {}

    /** The desktop said BYE (v1.1): no keepalives until it asks again. */
    record SessionEnded(String reason) implements PhoneEvent {}
}
