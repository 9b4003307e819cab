// A narrow declaration of the part of dcmjs this project calls (dcmjs ships no types).
declare module 'dcmjs' {
  type Dataset = Record<string, unknown>;
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
    };
  };
  const dcmjs: { data: typeof data };
  export default dcmjs;
}
