using Appliance.Contracts;

namespace Appliance.Daemon.Device;

/// <summary>A feature that owns models and reports them on the status document (language models, speech models).</summary>
internal interface IModelStatusSource
{
    /// <summary>Raised after any of the feature's models changes state.</summary>
    event Action? ModelsChanged;

    /// <summary>The feature's models as the status document lists them.</summary>
    IReadOnlyList<StatusModel> StatusModels();
}
