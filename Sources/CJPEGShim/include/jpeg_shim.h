// A small C layer over libjpeg: libjpeg reports fatal errors by longjmp from its error
// handler, and a longjmp must never unwind through Swift frames (Swift would skip its own
// cleanup and corrupt its state). Every libjpeg call therefore happens here, under a setjmp in
// the same C function, and comes back to Swift as a status code and a message.
#ifndef DROPBOOTH_JPEG_SHIM_H
#define DROPBOOTH_JPEG_SHIM_H

#include <stddef.h>
#include <stdint.h>

/// Outcome of a shim call. On anything but DB_JPEG_OK, `message` holds libjpeg's words.
typedef enum {
    DB_JPEG_OK = 0,
    DB_JPEG_ERROR = 1,      // libjpeg refused the data (corrupt, unsupported)
    DB_JPEG_TRUNCATED = 2,  // the data ended before the image did
    DB_JPEG_TOO_COMPLEX = 3 // more progressive scans than a real camera writes (CPU bomb)
} db_jpeg_status;

typedef struct {
    int width;
    int height;
    /// Components stored in the file (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK).
    int components;
    /// libjpeg's J_COLOR_SPACE of the file.
    int color_space;
    /// Components the decoder will write per pixel: 1 (gray), 3 (RGB) or 4 (CMYK).
    int output_components;
    /// An Adobe APP14 marker was present: CMYK values are stored inverted (Photoshop).
    int adobe_inverted;
    int progressive;
    char message[200];
} db_jpeg_info;

/// Reads only the header of a JPEG held in memory.
db_jpeg_status db_jpeg_read_header(const uint8_t *data, size_t size, db_jpeg_info *info);

/// Decodes a JPEG held in memory into `out`, `info->output_components` bytes per pixel, rows
/// top to bottom; `out_size` must be width × height × output_components. Fills `info` too.
/// Grayscale and YCbCr come out as gray and RGB; CMYK and YCCK come out as CMYK.
db_jpeg_status db_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                              int max_scans, db_jpeg_info *info);

/// Encodes 8-bit RGB rows into a JPEG; `*out` is malloc'd (free with db_jpeg_free).
db_jpeg_status db_jpeg_encode_rgb(const uint8_t *rgb, int width, int height, int quality,
                                  uint8_t **out, size_t *out_size, char message[200]);

void db_jpeg_free(void *pointer);

#endif
