package rig.companion.app;

import android.Manifest;
import android.content.pm.PackageManager;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.hardware.camera2.CaptureRequest;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.view.WindowManager;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.TextView;
import android.widget.Toast;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.annotation.OptIn;
import androidx.appcompat.app.AppCompatActivity;
import androidx.camera.camera2.interop.Camera2CameraControl;
import androidx.camera.camera2.interop.CaptureRequestOptions;
import androidx.camera.camera2.interop.ExperimentalCamera2Interop;
import androidx.camera.core.Camera;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.FocusMeteringAction;
import androidx.camera.core.FocusMeteringResult;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageCapture;
import androidx.camera.core.MeteringPoint;
import androidx.camera.core.Preview;
import androidx.camera.core.SurfaceOrientedMeteringPointFactory;
import androidx.camera.core.resolutionselector.AspectRatioStrategy;
import androidx.camera.core.resolutionselector.ResolutionSelector;
import androidx.camera.core.resolutionselector.ResolutionStrategy;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.content.ContextCompat;
import androidx.lifecycle.ViewModelProvider;
import com.google.common.util.concurrent.ListenableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import rig.companion.link.PhoneLoop;

/**
 * The one screen: camera preview, connection state, session, next index, the last photo and its
 * upload state, and a button to scan the pairing QR code. The screen stays on. The protocol runs
 * in {@link CompanionViewModel}; this activity only binds the camera while it is visible:
 * preview + ZXing analysis while scanning, preview + full-resolution capture otherwise.
 */
public final class MainActivity extends AppCompatActivity {
    /** Let auto-exposure, focus and white balance settle on the displayed image before locking. */
    private static final long WARMUP_MS = 1500;

    private CompanionViewModel model;
    private PreviewView preview;
    private TextView connection;
    private TextView progress;
    private TextView upload;
    private ImageView lastPhoto;
    private Button pairButton;
    private boolean scanning;
    private String shownPhoto = "";
    private final Handler main = new Handler(Looper.getMainLooper());
    private final ExecutorService analysis = Executors.newSingleThreadExecutor();
    private final ExecutorService thumbnails = Executors.newSingleThreadExecutor();
    private ActivityResultLauncher<String> askCamera;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        getWindow().addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON);
        setContentView(R.layout.activity_main);
        preview = findViewById(R.id.preview);
        connection = findViewById(R.id.connection);
        progress = findViewById(R.id.progress);
        upload = findViewById(R.id.upload);
        lastPhoto = findViewById(R.id.last_photo);
        pairButton = findViewById(R.id.pair);
        connection.setText(R.string.not_paired);

        model = new ViewModelProvider(this).get(CompanionViewModel.class);
        model.status().observe(this, this::render);
        model.message().observe(this, text -> Toast.makeText(this, text, Toast.LENGTH_LONG).show());
        model.shutter().observe(this, s -> bindCamera());
        pairButton.setOnClickListener(v -> {
            scanning = !scanning;
            pairButton.setText(scanning ? R.string.cancel_scan : R.string.pair);
            bindCamera();
        });
        askCamera = registerForActivityResult(new ActivityResultContracts.RequestPermission(), granted -> {
            if (granted) {
                bindCamera();
            } else {
                Toast.makeText(this, R.string.camera_permission_needed, Toast.LENGTH_LONG).show();
            }
        });
    }

    @Override
    protected void onStart() {
        super.onStart();
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            bindCamera();
        } else {
            askCamera.launch(Manifest.permission.CAMERA);
        }
    }

    @Override
    protected void onStop() {
        CameraShutter s = model.shutter().getValue();
        if (s != null) s.setCapture(null); // CameraX unbinds with the lifecycle; shots now fail fast
        super.onStop();
    }

    @Override
    protected void onDestroy() {
        analysis.shutdown();
        thumbnails.shutdown();
        super.onDestroy();
    }

    // ------------------------------------------------------------------ camera
    private void bindCamera() {
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) {
            return;
        }
        ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
        future.addListener(() -> {
            ProcessCameraProvider provider;
            try {
                provider = future.get();
            } catch (ExecutionException | InterruptedException e) {
                Toast.makeText(this, "camera unavailable: " + e.getMessage(), Toast.LENGTH_LONG).show();
                return;
            }
            provider.unbindAll();
            Preview view = new Preview.Builder().build();
            view.setSurfaceProvider(preview.getSurfaceProvider());
            CameraShutter shutter = model.shutter().getValue();
            if (scanning || shutter == null) {
                bindScanner(provider, view);
            } else {
                bindShutter(provider, view, shutter);
            }
        }, ContextCompat.getMainExecutor(this));
    }

    private void bindScanner(ProcessCameraProvider provider, Preview view) {
        if (!scanning) {
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, view);
            return;
        }
        ImageAnalysis qr = new ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .build();
        qr.setAnalyzer(analysis, new QrAnalyzer(text -> main.post(() -> {
            scanning = false;
            pairButton.setText(R.string.pair);
            model.pair(text); // a new shutter follows, which rebinds for capture
        })));
        provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, view, qr);
    }

    private void bindShutter(ProcessCameraProvider provider, Preview view, CameraShutter shutter) {
        // Full sensor resolution (4:3 is the native aspect of most sensors), best JPEG quality.
        ResolutionSelector full = new ResolutionSelector.Builder()
                .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY)
                .setResolutionStrategy(ResolutionStrategy.HIGHEST_AVAILABLE_STRATEGY)
                .build();
        ImageCapture capture = new ImageCapture.Builder()
                .setCaptureMode(ImageCapture.CAPTURE_MODE_MAXIMIZE_QUALITY)
                .setResolutionSelector(full)
                .setJpegQuality(100)
                .build();
        Camera camera = provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, view, capture);
        shutter.setCapture(capture);
        main.postDelayed(() -> lockExposure(camera, shutter), WARMUP_MS);
    }

    /**
     * Meter focus, exposure and white balance on the centre of the displayed image once, keep
     * focus there (no auto-cancel) and lock AE and AWB through Camera2 interop, so every photo of
     * the session is taken with the same settings.
     */
    @OptIn(markerClass = ExperimentalCamera2Interop.class)
    private void lockExposure(Camera camera, CameraShutter shutter) {
        MeteringPoint centre = new SurfaceOrientedMeteringPointFactory(1f, 1f).createPoint(0.5f, 0.5f);
        FocusMeteringAction action = new FocusMeteringAction.Builder(centre,
                FocusMeteringAction.FLAG_AF | FocusMeteringAction.FLAG_AE | FocusMeteringAction.FLAG_AWB)
                .disableAutoCancel()
                .build();
        ListenableFuture<FocusMeteringResult> metered = camera.getCameraControl().startFocusAndMetering(action);
        metered.addListener(() -> {
            CaptureRequestOptions lock = new CaptureRequestOptions.Builder()
                    .setCaptureRequestOption(CaptureRequest.CONTROL_AE_LOCK, true)
                    .setCaptureRequestOption(CaptureRequest.CONTROL_AWB_LOCK, true)
                    .build();
            ListenableFuture<Void> locked = Camera2CameraControl.from(camera.getCameraControl()).setCaptureRequestOptions(lock);
            locked.addListener(() -> {
                if (model.shutter().getValue() == shutter) shutter.setLocked(true);
            }, ContextCompat.getMainExecutor(this));
        }, ContextCompat.getMainExecutor(this));
    }

    // ------------------------------------------------------------------ status
    private void render(PhoneLoop.Status s) {
        connection.setText((s.connected() ? "Connected" : "Connecting…") + " · session " + s.sessionHex() + " · " + s.state());
        progress.setText("next index " + (s.cursor() < 0 ? "(from desktop)" : Integer.toString(s.cursor()))
                + " · photos " + s.shots() + " · stored on desktop " + s.stored());
        upload.setText((s.pendingUploads() == 0 ? "all uploads done" : s.pendingUploads() + " upload(s) pending")
                + "\n" + s.lastEvent() + (s.rejected().isEmpty() ? "" : "\nrejected datagrams: " + s.rejected()));
        if (!s.lastPhoto().isEmpty() && !s.lastPhoto().equals(shownPhoto)) {
            shownPhoto = s.lastPhoto();
            String path = s.lastPhoto();
            thumbnails.execute(() -> {
                BitmapFactory.Options opts = new BitmapFactory.Options();
                opts.inSampleSize = 16; // a full-resolution photo would not fit the thumbnail budget
                Bitmap bmp = BitmapFactory.decodeFile(path, opts);
                if (bmp != null) main.post(() -> lastPhoto.setImageBitmap(bmp));
            });
        }
    }
}
