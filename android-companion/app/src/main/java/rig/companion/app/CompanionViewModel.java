package rig.companion.app;

import android.app.Application;
import androidx.annotation.NonNull;
import androidx.lifecycle.AndroidViewModel;
import androidx.lifecycle.LiveData;
import androidx.lifecycle.MutableLiveData;
import java.io.IOException;
import rig.companion.link.PhoneLoop;
import rig.companion.protocol.Pairing;
import rig.companion.protocol.Timers;

/**
 * Owns the protocol loop, so it survives rotation; its state is persisted after every step, so
 * a process restart resumes too (the HELLO exchange tells the phone where the desktop is, §7).
 * The activity only renders {@link #status()} and lends the camera to {@link #shutter()}.
 */
public final class CompanionViewModel extends AndroidViewModel {
    private final MutableLiveData<PhoneLoop.Status> status = new MutableLiveData<>();
    private final MutableLiveData<String> message = new MutableLiveData<>();
    private final MutableLiveData<CameraShutter> shutter = new MutableLiveData<>();
    private PhoneLoop loop;
    private Thread thread;

    public CompanionViewModel(@NonNull Application app) {
        super(app);
        Pairing saved = CompanionFiles.loadPairing(app);
        if (saved != null) start(saved);
    }

    LiveData<PhoneLoop.Status> status() {
        return status;
    }

    LiveData<String> message() {
        return message;
    }

    /** The shutter of the current pairing (null until paired); the activity binds the camera to it. */
    LiveData<CameraShutter> shutter() {
        return shutter;
    }

    /** Pair with the text of a scanned QR code; replaces any earlier pairing. */
    void pair(String text) {
        try {
            Pairing p = Pairing.parse(text);
            CompanionFiles.savePairing(getApplication(), p);
            start(p);
            message.postValue("paired with " + p.host() + " (session " + p.sessionHex() + ")");
        } catch (Pairing.PairingException e) {
            message.postValue(e.getMessage());
        } catch (IOException e) {
            message.postValue("cannot save the pairing: " + e.getMessage());
        }
    }

    private synchronized void start(Pairing p) {
        stop();
        CameraShutter cam = new CameraShutter(p.sessionHex());
        PhoneLoop next = new PhoneLoop(p, CompanionFiles.store(getApplication(), p), cam,
                UploadWorker.uploader(getApplication(), p.sessionHex()), status::postValue, Timers.defaults());
        loop = next;
        thread = new Thread(() -> {
            try {
                next.run(0); // runs until stopped: the operator leaves the app open
            } catch (IOException | RuntimeException e) {
                message.postValue("protocol stopped: " + e.getMessage());
            }
        }, "rig-phone-loop");
        thread.start();
        shutter.postValue(cam);
    }

    private synchronized void stop() {
        if (loop != null) loop.stop();
        if (thread != null) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        loop = null;
        thread = null;
    }

    @Override
    protected void onCleared() {
        stop();
    }
}
