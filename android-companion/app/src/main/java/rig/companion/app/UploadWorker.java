package rig.companion.app;

import android.content.Context;
import androidx.annotation.NonNull;
import androidx.work.BackoffPolicy;
import androidx.work.Constraints;
import androidx.work.Data;
import androidx.work.ExistingWorkPolicy;
import androidx.work.NetworkType;
import androidx.work.OneTimeWorkRequest;
import androidx.work.WorkManager;
import androidx.work.Worker;
import androidx.work.WorkerParameters;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import rig.companion.link.PhoneLoop;
import rig.companion.protocol.Pairing;
import rig.companion.protocol.UploadClient;

/**
 * Uploads one photo (docs/protocol.md §5) as WorkManager work, so a failed upload is retried
 * with backoff and survives the app being backgrounded or killed: it is never lost. The upload
 * resumes from the desktop's offset, and is idempotent, so a retry after a success is harmless.
 */
public final class UploadWorker extends Worker {
    private static final String KEY_INDEX = "index";
    private static final String KEY_ATTEMPT = "attempt";
    private static final String KEY_PATH = "path";
    /** Callbacks of the running PhoneLoop (same process), by unique work name. */
    private static final Map<String, PhoneLoop.UploadCallback> WAITING = new ConcurrentHashMap<>();

    public UploadWorker(@NonNull Context context, @NonNull WorkerParameters params) {
        super(context, params);
    }

    static String workName(String sessionHex, int index, int attempt) {
        return "upload-" + sessionHex + "-" + index + "-" + attempt;
    }

    /** A {@link PhoneLoop.Uploader} that enqueues unique work per (session, index, attempt). */
    static PhoneLoop.Uploader uploader(Context ctx, String sessionHex) {
        Context app = ctx.getApplicationContext();
        return (index, attempt, path, done) -> {
            String name = workName(sessionHex, index, attempt);
            WAITING.put(name, done);
            Data input = new Data.Builder()
                    .putInt(KEY_INDEX, index)
                    .putInt(KEY_ATTEMPT, attempt)
                    .putString(KEY_PATH, path.toString())
                    .build();
            OneTimeWorkRequest request = new OneTimeWorkRequest.Builder(UploadWorker.class)
                    .setInputData(input)
                    .setConstraints(new Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                    .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 10, TimeUnit.SECONDS)
                    .build();
            // KEEP: an upload already queued or running is not duplicated; a finished one is
            // replaced, because the desktop asking again means it does not hold the photo.
            WorkManager.getInstance(app).enqueueUniqueWork(name, ExistingWorkPolicy.KEEP, request);
        };
    }

    @NonNull
    @Override
    public Result doWork() {
        Pairing pairing = CompanionFiles.loadPairing(getApplicationContext());
        if (pairing == null) return Result.failure(); // unpaired since: nothing to upload to
        int index = getInputData().getInt(KEY_INDEX, -1);
        int attempt = getInputData().getInt(KEY_ATTEMPT, -1);
        String pathText = getInputData().getString(KEY_PATH);
        if (index < 0 || attempt < 0 || pathText == null) return Result.failure();
        Path path = Paths.get(pathText);
        if (!path.startsWith(CompanionFiles.store(getApplicationContext(), pairing).dir())) {
            return Result.failure(); // a photo of another session: its pairing key is gone
        }
        byte[] data;
        try {
            data = Files.readAllBytes(path);
        } catch (IOException e) {
            return Result.failure(); // the photo is gone; the desktop will ask again and get a retake
        }
        UploadClient.Outcome outcome =
                new UploadClient(new UrlConnectionTransport(), pairing).uploadOutcome(index, attempt, data);
        if (outcome == UploadClient.Outcome.RETRY) return Result.retry();
        PhoneLoop.UploadCallback done = WAITING.remove(workName(pairing.sessionHex(), index, attempt));
        if (done != null) done.finished(outcome);
        return outcome == UploadClient.Outcome.STORED ? Result.success() : Result.failure();
    }
}
