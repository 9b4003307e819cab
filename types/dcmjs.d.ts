// A narrow declaration of the part of dcmjs this project calls (dcmjs ships no types).
declare module 'dcmjs' {
  type Dataset = Record<string, unknown>;
  interface DictionaryEntry {
    tag: string;
    vr: string;
    vm: string;
    name: string;
    version: string;
  }
  class DicomDict {
    constructor(meta: Dataset);
    dict: Dataset;
    meta: Dataset;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const data: {
    DicomDict: typeof DicomDict;
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDict };
    DicomMetaDictionary: {
      uid(): string;
      naturalizeDataset(dict: Dataset): Dataset;
      denaturalizeDataset(dataset: Dataset): Dataset;
      /** A Proxy: looked up by `(GGGG,EEEE)` or `GGGGEEEE` only (it lists no keys). */
      dictionary: Record<string, DictionaryEntry | undefined>;
      /** By keyword (`RETIRED_` prefixed for retired ones); an ordinary object, prototype included. */
      nameMap: Record<string, DictionaryEntry | undefined>;
    };
  };
  const dcmjs: { data: typeof data };
  export default dcmjs;
}
