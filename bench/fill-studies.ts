import { request, type Dispatcher } from 'undici';
import { generateStudy } from '../test/helpers/dicom.js';

/**
 * Stores studies `from` to `to - 1` in Orthanc, one small instance each (patient `<prefix>-<i>`,
 * dates spread over 15 years), eight uploads at a time over `dispatcher`: a large archive for
 * the benchmarks that list or page studies, made in seconds rather than from real images.
 */
export async function fillStudies(
  orthancUrl: string,
  from: number,
  to: number,
  options: { prefix: string; dispatcher: Dispatcher },
): Promise<void> {
  let next = from;
  const upload = async () => {
    while (next < to) {
      const i = next++;
      const date = `20${String(10 + (i % 15)).padStart(2, '0')}${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}`;
      const [instance] = generateStudy({
        patientId: `${options.prefix}-${i}`,
        patientName: `Bench^${i}`,
        studyDate: date,
        size: 8,
        series: [{ modality: 'OT', instances: 1 }],
      });
      // Storing the same instance twice is harmless: one retry when a connection closed under us.
      for (let attempt = 1; ; attempt += 1) {
        try {
          const answer = await request(`${orthancUrl}/instances`, { method: 'POST', body: instance!.file, dispatcher: options.dispatcher });
          await answer.body.dump();
          if (answer.statusCode !== 200) throw new Error(`upload: HTTP ${answer.statusCode}`);
          break;
        } catch (error) {
          if (attempt >= 3 || (error as { code?: string }).code !== 'UND_ERR_SOCKET') throw error;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, upload));
}
