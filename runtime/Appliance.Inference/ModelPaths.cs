using Appliance.Profiles;

namespace Appliance.Inference;

/// <summary>
/// Where model files are: a path from the profile or an RPC is taken as it is when absolute, and under one models root
/// folder otherwise. Immutable; thread-safe.
/// </summary>
/// <param name="root">The models root (the <c>Models:Root</c> setting); relative to the working directory unless absolute.</param>
public sealed class ModelPaths(string root)
{
    /// <summary>The models root as an absolute path.</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The absolute path of <paramref name="path"/>.</summary>
    /// <param name="path">A file or folder, absolute or relative to <see cref="Root"/>.</param>
    public string Resolve(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Root, path));

    /// <summary><paramref name="model"/> with its path resolved; null stays null.</summary>
    /// <param name="model">A model of the profile, or null.</param>
    public ModelSpec? Resolve(ModelSpec? model) => model is null ? null : model with { Path = Resolve(model.Path) };
}
