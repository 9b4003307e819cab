import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Writes a DICOM file from a dcmdump-style text (`dump2dcm`), bytes as they are (any character set). */
export async function dump2dcm(folder: string, name: string, dump: Buffer | string, options: string[] = []): Promise<string> {
  const source = join(folder, `${name}.txt`);
  const target = join(folder, `${name}.dcm`);
  await writeFile(source, dump);
  await run('dump2dcm', ['-q', ...options, source, target]);
  return target;
}

/** Runs a dcmtk converter (`dcmconv`, `dcmcrle`, `dcmcjpeg`, ...) from `source` to `<name>.dcm`. */
export async function convert(folder: string, tool: string, options: string[], source: string, name: string): Promise<string> {
  const target = join(folder, `${name}.dcm`);
  await run(tool, ['-q', ...options, source, target]);
  return target;
}

/**
 * dcmdump's own view of a file: values whole (`+L`), UIDs as numbers (`-Un`) and, with `utf8`,
 * text converted to UTF-8 by the file's character sets (`+U8`; it then also shows a Specific
 * Character Set of ISO_IR 192 in files that have none).
 */
export async function dcmdump(file: string, utf8 = false): Promise<string> {
  return (await run('dcmdump', ['-q', '+L', '-Un', ...(utf8 ? ['+U8'] : []), file], { maxBuffer: 64 * 2 ** 20 })).stdout;
}

export const SECONDARY_CAPTURE_MULTIFRAME_WORD = '1.2.840.10008.5.1.4.1.1.7.3';

/** 8×8 16-bit words (2 frames of 4×4, or 1 of 8×8) as dcmdump-style hex, `0000\0001\...`. */
const words = (count: number) => Array.from({ length: count }, (_, i) => (i * 257).toString(16).padStart(4, '0')).join('\\');

/**
 * One element of every VR that dcmtk writes, sequences two deep, private tags and a 3-frame
 * image, in UTF-8 (ISO_IR 192).
 */
export function everyVrDump(sopInstanceUid: string): string {
  return `
(0008,0005) CS [ISO_IR 192]
(0008,0008) CS [DERIVED\\SECONDARY]
(0008,0012) DA [20240102]
(0008,0013) TM [101112.5]
(0008,0016) UI [${SECONDARY_CAPTURE_MULTIFRAME_WORD}]
(0008,0018) UI [${sopInstanceUid}]
(0008,002a) DT [20240102101112.123456]
(0008,0054) AE [STORESCP\\ARCHIVE]
(0008,0060) CS [OT]
(0008,0070) LO [Åcme Médical]
(0008,0081) ST [Rue de l'Hôpital 1, Genève]
(0008,0090) PN [Müller^Jürgen=ミュラー^ユルゲン]
(0008,010e) UR [http://example.org/codes]
(0008,0119) UC [A long code value]
(0008,030e) UT [${'A long text that goes on and on. '.repeat(6)}]
(0008,0309) UL 1\\2\\3
(0008,040c) UV 18446744073709551615
(0008,1160) IS [1\\2\\3]
(0008,1163) FD 0.25\\-2
(0008,2134) FD 1.5
(0008,9459) FL 29.5
(0009,0010) LO [ACME 1.0]
(0009,1001) LO [private value]
(0009,1002) OB 0a\\0b\\0c\\0d
(0010,0010) PN [Wang^XiaoDong=王^小東]
(0010,0020) LO [DUMP-EVERY-VR]
(0010,1010) AS [045Y]
(0010,1020) DS [1.750]
(0014,0202) AT (0010,0010)
(0018,1638) OF 1\\2\\3\\4\\5
(0018,6020) SL -5
(0018,9219) SS -3\\4
(0020,000d) UI [1.2.826.0.1.3680043.10.1391.77.1]
(0020,000e) UI [1.2.826.0.1.3680043.10.1391.77.2]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0008) IS [3]
(0028,0010) US 4
(0028,0011) US 4
(0028,0100) US 16
(0028,0101) US 16
(0028,0102) US 15
(0028,0103) US 0
(0028,1201) OW ${words(12)}
(0040,0275) SQ (Sequence with explicit length #=2)
  (fffe,e000) na (Item with explicit length #=3)
    (0040,0007) LO [Première étape]
    (0040,0008) SQ (Sequence with explicit length #=1)
      (fffe,e000) na (Item with explicit length #=3)
        (0008,0100) SH [CODE1]
        (0008,0102) SH [DCM]
        (0008,0104) LO [Signification é]
      (fffe,e00d) na (ItemDelimitationItem for re-encoding)
    (fffe,e0dd) na (SequenceDelimitationItem for re-enc.)
    (0040,1001) SH [RP-1]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
  (fffe,e000) na (Item with explicit length #=1)
    (0040,1001) SH [RP-2]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-enc.)
(0066,0022) OD 1.5\\2.5\\3.5
(0066,0129) OL 1\\2\\3\\4\\5
(0072,006d) UN 01\\02\\03
(0072,0081) OV 1\\2\\3
(0072,0082) SV -9007199254740993
(7fe0,0010) OW ${words(48)}
`;
}

/** A minimal image around a patient name and a few texts, in `charset`; values are raw bytes (latin1 string). */
export function charsetDump(sopInstanceUid: string, charset: string, patientName: string, studyDescription: string): Buffer {
  return Buffer.from(
    `
(0008,0005) CS [${charset}]
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]
(0008,0018) UI [${sopInstanceUid}]
(0008,0060) CS [OT]
(0008,1030) LO [${studyDescription}]
(0010,0010) PN [${patientName}]
(0010,0020) LO [CHARSET-${sopInstanceUid.slice(-4)}]
(0020,000d) UI [${sopInstanceUid}.1]
(0020,000e) UI [${sopInstanceUid}.2]
`,
    'latin1',
  );
}
