//! The card face's images. A real card stores the name, address, security code and My Number as 1-bit
//! PNG scans of the printed face and the photo as JPEG 2000 (../shared/reference/jpki-card.md §11).
//! The sandbox has no font to print Japanese with, so its text images are blank 1-bit PNGs of the
//! printed size (one 12×12 cell per character) that carry the text in a standard `iTXt` chunk
//! (keyword `Description`); the photo is whatever image the holder supplied, or a generated greyscale
//! PNG. Encoding is deterministic: the issuer signs these bytes and the card serves the same bytes.

/// The `iTXt` keyword that carries an image's text.
pub const TEXT_KEYWORD: &str = "Description";

fn encode(width: u32, height: u32, depth: png::BitDepth, pixels: &[u8], text: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(depth);
        if let Some(text) = text {
            encoder.add_itxt_chunk(TEXT_KEYWORD.to_owned(), text.to_owned()).expect("iTXt keyword is valid");
        }
        let mut writer = encoder.write_header().expect("PNG header into memory");
        writer.write_image_data(pixels).expect("PNG data into memory");
    }
    out
}

/// A 1-bit image of `text` as printed on the card face, `cells` characters wide.
pub fn text_image(text: &str) -> Vec<u8> {
    let cells = text.chars().count().max(1) as u32;
    let (width, height) = (12 * cells, 12);
    let row = width.div_ceil(8) as usize;
    encode(width, height, png::BitDepth::One, &vec![0xff; row * height as usize], Some(text))
}

/// A generated greyscale portrait (90×110, a head-and-shoulders silhouette on a background shaded by
/// `seed`), for holders who gave no photo.
pub fn generated_photo(seed: &[u8]) -> Vec<u8> {
    let (width, height) = (90u32, 110u32);
    let shade = jpki_crypto::sha256(seed)[0] / 4 + 160;
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for y in 0..height as i32 {
        for x in 0..width as i32 {
            let head = (x - 45).pow(2) * 100 / 18i32.pow(2) + (y - 42).pow(2) * 100 / 24i32.pow(2) <= 100;
            let shoulders = y > 72 && (x - 45).pow(2) * 100 / 40i32.pow(2) + (y - 110).pow(2) * 100 / 38i32.pow(2) <= 100;
            pixels.push(if head || shoulders { 60 } else { shade });
        }
    }
    encode(width, height, png::BitDepth::Eight, &pixels, None)
}

/// The text an image made by [`text_image`] carries.
pub fn image_text(png_bytes: &[u8]) -> Option<String> {
    let reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().ok()?;
    let chunk = reader.info().utf8_text.iter().find(|c| c.keyword == TEXT_KEYWORD)?;
    chunk.get_text().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_images_carry_their_text_and_are_deterministic() {
        let a = text_image("デジタル　太郎");
        assert_eq!(a, text_image("デジタル　太郎"));
        assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(image_text(&a).as_deref(), Some("デジタル　太郎"));
        let photo = generated_photo(b"person-1");
        assert_eq!(photo, generated_photo(b"person-1"));
        assert_eq!(image_text(&photo), None);
        assert_eq!(image_text(b"not a png"), None);
    }
}
