package rig.companion;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import rig.companion.protocol.UploadClient.Frame;

/**
 * "Photographs" a screen-tap frame: a JPEG of its pixels, as the Python phone simulator does
 * with cv2.imencode. Three-channel frames keep their byte order (OpenCV's BGR), so the desktop
 * decodes exactly the channels it served.
 */
final class FrameJpeg {
    private FrameJpeg() {}

    static byte[] encode(Frame f, float quality) throws IOException {
        BufferedImage img;
        if (f.channels() == 1) {
            img = new BufferedImage(f.width(), f.height(), BufferedImage.TYPE_BYTE_GRAY);
            byte[] dst = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
            System.arraycopy(f.pixels(), 0, dst, 0, dst.length);
        } else if (f.channels() == 3 || f.channels() == 4) {
            img = new BufferedImage(f.width(), f.height(), BufferedImage.TYPE_3BYTE_BGR);
            byte[] dst = ((DataBufferByte) img.getRaster().getDataBuffer()).getData(); // B,G,R order
            int n = f.width() * f.height();
            for (int p = 0; p < n; p++) {
                System.arraycopy(f.pixels(), p * f.channels(), dst, p * 3, 3); // alpha dropped
            }
        } else {
            throw new IOException("screen tap has " + f.channels() + " channels; expected 1, 3 or 4");
        }
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
            writer.setOutput(stream);
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(quality);
            writer.write(null, new IIOImage(img, null, null), param);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }
}
