#include "jpeg_shim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// libjpeg's error manager, extended with the jump target and what we learnt on the way.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int saw_premature_end;   // JWRN_JPEG_EOF: the source ran dry and libjpeg padded it
    int saw_bad_data;        // entropy-coded data was garbage: the pixels would be too
    int scan_limit;          // abort after this many progressive scans (0 = no limit)
    int too_complex;
    char message[200];
} db_error_mgr;

static void db_error_exit(j_common_ptr cinfo) {
    db_error_mgr *err = (db_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

// Warnings (level -1) are corrupt-data hints; libjpeg carries on. We keep the first message
// and remember a premature end, which means the file was cut short.
static void db_emit_message(j_common_ptr cinfo, int level) {
    db_error_mgr *err = (db_error_mgr *)cinfo->err;
    if (level >= 0) return;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) err->saw_premature_end = 1;
    // Extraneous bytes between markers are common and harmless; a bad Huffman code or a lost
    // restart marker means blocks of the picture are garbage, which training must not learn.
    if (cinfo->err->msg_code == JWRN_HUFF_BAD_CODE || cinfo->err->msg_code == JWRN_MUST_RESYNC)
        err->saw_bad_data = 1;
    if (err->message[0] == 0) (*cinfo->err->format_message)(cinfo, err->message);
    cinfo->err->num_warnings++;
}

static void db_output_message(j_common_ptr cinfo) { (void)cinfo; }

// A progressive JPEG may hold thousands of tiny scans, each costing a full pass over the
// coefficients: a small file that burns minutes of CPU. Real encoders write about ten.
static void db_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    db_error_mgr *err = (db_error_mgr *)cinfo->err;
    if (err->scan_limit > 0 && dinfo->input_scan_number > err->scan_limit) {
        err->too_complex = 1;
        snprintf(err->message, sizeof err->message, "more than %d progressive scans", err->scan_limit);
        longjmp(err->jump, 1);
    }
}

static void db_init_error(db_error_mgr *err) {
    memset(err, 0, sizeof *err);
    jpeg_std_error(&err->base);
    err->base.error_exit = db_error_exit;
    err->base.emit_message = db_emit_message;
    err->base.output_message = db_output_message;
}

static void db_fill_info(j_decompress_ptr cinfo, db_jpeg_info *info) {
    info->width = (int)cinfo->image_width;
    info->height = (int)cinfo->image_height;
    info->components = cinfo->num_components;
    info->color_space = (int)cinfo->jpeg_color_space;
    info->adobe_inverted = cinfo->saw_Adobe_marker ? 1 : 0;
    info->progressive = jpeg_has_multiple_scans(cinfo) ? 1 : 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: info->output_components = 1; break;
    case JCS_CMYK: case JCS_YCCK: info->output_components = 4; break;
    default: info->output_components = 3; break;
    }
}

// Chooses what libjpeg writes: gray stays gray, CMYK and YCCK become CMYK (libjpeg converts
// YCCK), everything else becomes RGB.
static void db_choose_output(j_decompress_ptr cinfo) {
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK: case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; break;
    default: cinfo->out_color_space = JCS_RGB; break;
    }
}

static db_jpeg_status db_status(db_error_mgr *err) {
    if (err->too_complex) return DB_JPEG_TOO_COMPLEX;
    if (err->saw_premature_end) return DB_JPEG_TRUNCATED;
    return DB_JPEG_ERROR;
}

db_jpeg_status db_jpeg_read_header(const uint8_t *data, size_t size, db_jpeg_info *info) {
    struct jpeg_decompress_struct cinfo;
    db_error_mgr err;
    memset(&cinfo, 0, sizeof cinfo);
    memset(info, 0, sizeof *info);
    db_init_error(&err);
    cinfo.err = &err.base;
    if (setjmp(err.jump)) {
        db_jpeg_status status = db_status(&err);
        memcpy(info->message, err.message, sizeof info->message);
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    db_fill_info(&cinfo, info);
    jpeg_destroy_decompress(&cinfo);
    return DB_JPEG_OK;
}

db_jpeg_status db_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                              int max_scans, db_jpeg_info *info) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    db_error_mgr err;
    memset(&cinfo, 0, sizeof cinfo);
    memset(info, 0, sizeof *info);
    db_init_error(&err);
    err.scan_limit = max_scans;
    cinfo.err = &err.base;
    if (setjmp(err.jump)) {
        db_jpeg_status status = db_status(&err);
        memcpy(info->message, err.message, sizeof info->message);
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    jpeg_create_decompress(&cinfo);
    memset(&progress, 0, sizeof progress);
    progress.progress_monitor = db_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    db_fill_info(&cinfo, info);
    db_choose_output(&cinfo);
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    if ((int)cinfo.output_components != info->output_components ||
        stride * (size_t)cinfo.output_height != out_size) {
        snprintf(info->message, sizeof info->message, "unexpected output layout");
        jpeg_destroy_decompress(&cinfo);
        return DB_JPEG_ERROR;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    // A cut-short or damaged file decodes "successfully" with grey padding or garbage
    // blocks; to us it is broken.
    if (err.saw_premature_end || err.saw_bad_data) {
        memcpy(info->message, err.message, sizeof info->message);
        return err.saw_premature_end ? DB_JPEG_TRUNCATED : DB_JPEG_ERROR;
    }
    return DB_JPEG_OK;
}

db_jpeg_status db_jpeg_encode_rgb(const uint8_t *rgb, int width, int height, int quality,
                                  uint8_t **out, size_t *out_size, char message[200]) {
    struct jpeg_compress_struct cinfo;
    db_error_mgr err;
    unsigned char *buffer = NULL;
    unsigned long buffer_size = 0;
    memset(&cinfo, 0, sizeof cinfo);
    db_init_error(&err);
    cinfo.err = &err.base;
    *out = NULL;
    *out_size = 0;
    if (setjmp(err.jump)) {
        memcpy(message, err.message, 200);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return DB_JPEG_ERROR;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &buffer_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = buffer_size;
    return DB_JPEG_OK;
}

void db_jpeg_free(void *pointer) { free(pointer); }
