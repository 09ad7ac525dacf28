package rig.companion.app;

import androidx.annotation.NonNull;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import com.google.zxing.BinaryBitmap;
import com.google.zxing.ChecksumException;
import com.google.zxing.DecodeHintType;
import com.google.zxing.FormatException;
import com.google.zxing.NotFoundException;
import com.google.zxing.PlanarYUVLuminanceSource;
import com.google.zxing.Result;
import com.google.zxing.common.HybridBinarizer;
import com.google.zxing.qrcode.QRCodeReader;
import java.nio.ByteBuffer;
import java.util.EnumMap;
import java.util.Map;

/** Finds the desktop's pairing QR code (a {@code rig1://} URI) in camera frames, with ZXing. */
final class QrAnalyzer implements ImageAnalysis.Analyzer {
    interface Found {
        void onPairingText(String text);
    }

    private final QRCodeReader reader = new QRCodeReader();
    private final Map<DecodeHintType, Object> hints = new EnumMap<>(DecodeHintType.class);
    private final Found found;
    private volatile boolean done;

    QrAnalyzer(Found found) {
        this.found = found;
        hints.put(DecodeHintType.TRY_HARDER, Boolean.TRUE);
    }

    @Override
    public void analyze(@NonNull ImageProxy image) {
        try {
            if (done) return;
            // Plane 0 of YUV_420_888 is the luminance; rows may be padded to rowStride.
            ImageProxy.PlaneProxy y = image.getPlanes()[0];
            ByteBuffer buf = y.getBuffer();
            byte[] data = new byte[buf.remaining()];
            buf.get(data);
            int w = image.getWidth();
            int h = image.getHeight();
            PlanarYUVLuminanceSource source = new PlanarYUVLuminanceSource(data, y.getRowStride(), h, 0, 0, w, h, false);
            Result result = reader.decode(new BinaryBitmap(new HybridBinarizer(source)), hints);
            String text = result.getText();
            if (text != null && text.startsWith("rig1://")) {
                done = true;
                found.onPairingText(text);
            }
        } catch (NotFoundException | ChecksumException | FormatException e) {
            // no readable code in this frame: try the next one
        } finally {
            image.close();
        }
    }
}
