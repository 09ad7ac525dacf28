package rig.companion.app;

import android.os.Handler;
import android.os.Looper;
import androidx.annotation.NonNull;
import androidx.camera.core.ImageCapture;
import androidx.camera.core.ImageCaptureException;
import androidx.exifinterface.media.ExifInterface;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import rig.companion.link.PhoneLoop;
import rig.companion.protocol.Auth;

/**
 * The real camera behind {@link PhoneLoop.Shutter}: CameraX ImageCapture (bound by the activity
 * while it is visible). The JPEG is written to a temp file, tagged in EXIF with session, index,
 * attempt and the desktop's tag (never patient data), fsynced and renamed into place; only then
 * is it reported saved. A shot waits (bounded) for the focus/exposure/white-balance lock after a
 * (re)binding; without a bound camera (app in the background) it fails, and the desktop retries.
 */
final class CameraShutter implements PhoneLoop.Shutter {
    private final String sessionHex;
    private final ExecutorService io = Executors.newSingleThreadExecutor();
    private static final long LOCK_WAIT_MS = 10_000; // below the phone's 20 s camera timeout
    private final Handler main = new Handler(Looper.getMainLooper());
    private volatile ImageCapture capture;
    private boolean locked; // guarded by this

    CameraShutter(String sessionHex) {
        this.sessionHex = sessionHex;
    }

    /** The activity's bound use case (null when the activity is stopped). */
    synchronized void setCapture(ImageCapture capture) {
        this.capture = capture;
        this.locked = false; // a new binding warms up and locks again
    }

    /** Focus, exposure and white balance are locked (after the warm-up). */
    synchronized void setLocked(boolean locked) {
        this.locked = locked;
        notifyAll();
    }

    /** Wait (bounded) for the lock, so a shot right after rotation waits instead of failing. */
    private synchronized boolean awaitLocked() throws InterruptedException {
        long end = System.currentTimeMillis() + LOCK_WAIT_MS;
        while (!locked && capture != null) {
            long left = end - System.currentTimeMillis();
            if (left <= 0) return false;
            wait(left);
        }
        return locked;
    }

    @Override
    public void shoot(int index, int attempt, String tag, Path target, PhoneLoop.ShotCallback done) {
        io.execute(() -> {
            try {
                if (!awaitLocked()) {
                    done.failed(capture == null ? "camera not available (app not in the foreground)"
                            : "camera did not lock focus/exposure in time");
                    return;
                }
            } catch (InterruptedException e) {
                done.failed("interrupted");
                return;
            }
            ImageCapture ic = capture;
            if (ic == null) {
                done.failed("camera not available (app not in the foreground)");
                return;
            }
            File tmp = new File(target.toString() + ".part");
            ImageCapture.OutputFileOptions options = new ImageCapture.OutputFileOptions.Builder(tmp).build();
            main.post(() -> ic.takePicture(options, io, new ImageCapture.OnImageSavedCallback() {
                @Override
                public void onImageSaved(@NonNull ImageCapture.OutputFileResults results) {
                    try {
                        tagExif(tmp, index, attempt, tag);
                        try (FileChannel ch = FileChannel.open(tmp.toPath(), StandardOpenOption.WRITE)) {
                            ch.force(true);
                        }
                        Files.move(tmp.toPath(), target, StandardCopyOption.ATOMIC_MOVE,
                                StandardCopyOption.REPLACE_EXISTING);
                        byte[] data = Files.readAllBytes(target);
                        done.saved(Auth.sha256Hex(data), data.length);
                    } catch (IOException e) {
                        done.failed("saving the photo: " + e.getMessage());
                    }
                }

                @Override
                public void onError(@NonNull ImageCaptureException e) {
                    done.failed("camera error " + e.getImageCaptureError() + ": " + e.getMessage());
                }
            }));
        });
    }

    private void tagExif(File file, int index, int attempt, String tag) throws IOException {
        ExifInterface exif = new ExifInterface(file.getAbsolutePath());
        String text = String.format(Locale.ROOT, "rig session=%s index=%d attempt=%d tag=%s", sessionHex, index, attempt, tag);
        exif.setAttribute(ExifInterface.TAG_IMAGE_DESCRIPTION, text);
        exif.setAttribute(ExifInterface.TAG_USER_COMMENT, text);
        exif.setAttribute(ExifInterface.TAG_SOFTWARE, "rig companion");
        exif.saveAttributes();
    }
}
