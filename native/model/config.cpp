#include "model/config.h"

#include "common/arg_error.h"

namespace adetr::model {

void DinoConfig::validate() const {
  checkRange(numClasses >= 1 && numClasses <= 100000, "numClasses: expected an integer in [1, 100000], got ", numClasses);
  checkRange(backboneDepth == 18 || backboneDepth == 34 || backboneDepth == 50 || backboneDepth == 101,
             "backboneDepth: expected 18, 34, 50 or 101, got ", backboneDepth);
  checkRange(backboneWidth >= 8 && backboneWidth <= 256 && backboneWidth % 8 == 0,
             "backboneWidth: expected a multiple of 8 in [8, 256], got ", backboneWidth);
  checkRange(freezeAt >= 0 && freezeAt <= 5, "freezeAt: expected an integer in [0, 5], got ", freezeAt);
  checkRange(hiddenDim >= 8 && hiddenDim % 4 == 0, "hiddenDim: expected a multiple of 4, at least 8, got ", hiddenDim);
  checkRange(numHeads >= 1 && hiddenDim % numHeads == 0, "numHeads: must divide hiddenDim (", hiddenDim, "), got ", numHeads);
  checkRange(numLevels == 4, "numLevels: only the 4-scale model (4) is supported, got ", numLevels);
  checkRange(numPoints >= 1 && numPoints <= 16, "numPoints: expected an integer in [1, 16], got ", numPoints);
  checkRange(encoderLayers >= 1 && encoderLayers <= 24, "encoderLayers: expected an integer in [1, 24], got ", encoderLayers);
  checkRange(decoderLayers >= 1 && decoderLayers <= 24, "decoderLayers: expected an integer in [1, 24], got ", decoderLayers);
  checkRange(ffnDim >= 1, "ffnDim: expected a positive integer, got ", ffnDim);
  checkRange(numQueries >= 1 && numQueries <= 10000, "numQueries: expected an integer in [1, 10000], got ", numQueries);
  checkRange(neckGroups >= 1 && hiddenDim % neckGroups == 0, "neckGroups: must divide hiddenDim (", hiddenDim, "), got ", neckGroups);
  checkRange(dnNumber >= 0, "dnNumber: expected a non-negative integer, got ", dnNumber);
  checkRange(labelNoiseRatio >= 0 && labelNoiseRatio <= 1, "labelNoiseRatio: expected a number in [0, 1], got ", labelNoiseRatio);
  checkRange(boxNoiseScale >= 0, "boxNoiseScale: expected a non-negative number, got ", boxNoiseScale);
  checkRange(testShortEdge >= 16 && testMaxSize >= testShortEdge, "testShortEdge/testMaxSize: need 16 <= testShortEdge <= testMaxSize, got ",
             testShortEdge, "/", testMaxSize);
  checkRange(selectTopK >= 1, "selectTopK: expected a positive integer, got ", selectTopK);
}

std::vector<std::string> presetNames() { return {"dino-r50-4scale", "tiny"}; }

DinoConfig presetConfig(const std::string& name) {
  DinoConfig c;
  if (name == "dino-r50-4scale") return c;  // the paper's model: the defaults above
  if (name == "tiny") {
    // Small enough to train on two CPU cores in minutes: a narrow ResNet-18, 2+2 layers.
    c.backboneDepth = 18;
    c.backboneWidth = 32;
    c.hiddenDim = 128;
    c.numHeads = 4;
    c.numPoints = 4;
    c.encoderLayers = 2;
    c.decoderLayers = 2;
    c.ffnDim = 512;
    c.numQueries = 100;
    c.neckGroups = 16;
    c.dnNumber = 20;
    c.testShortEdge = 320;
    c.testMaxSize = 512;
    c.selectTopK = 100;
    c.freezeAt = 0;  // trained from scratch: nothing to keep frozen
    c.backboneGroupNorm = true;
    return c;
  }
  checkRange(false, "preset: unknown preset '", name, "'; expected 'dino-r50-4scale' or 'tiny'");
  return c;
}

}  // namespace adetr::model
