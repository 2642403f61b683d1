using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace Appliance.OtaTool;

/// <summary>
/// A static HTTP server for a repository folder, for workshops and tests: every file as bytes, with range requests
/// (ASP.NET Core's static files), on a loopback or LAN address. It serves nothing it has not been given: no listings,
/// no uploads. Dispose it to stop.
/// </summary>
internal sealed class RepositoryServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RepositoryServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The base address that devices take as their repository, ending in a slash.</summary>
    public Uri Address { get; }

    /// <summary>Starts serving <paramref name="folder"/> on <paramref name="bind"/>:<paramref name="port"/> (0: a free port the system picks).</summary>
    /// <param name="folder">The repository folder.</param>
    /// <param name="bind">The address to listen on, for example 127.0.0.1.</param>
    /// <param name="port">The TCP port, or 0.</param>
    /// <param name="before">Middleware placed before the static files, for tests that play a bad mirror; null for none.</param>
    /// <param name="cancellationToken">Stops a start that takes too long.</param>
    public static async Task<RepositoryServer> StartAsync(string folder, IPAddress bind, int port, Func<HttpContext, RequestDelegate, Task>? before, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = folder });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(bind, port));
        var app = builder.Build();
        if (before is not null)
        {
            app.Use(before);
        }

        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(Path.GetFullPath(folder)),
            ServeUnknownFileTypes = true,
            ContentTypeProvider = new FileExtensionContentTypeProvider(),
            DefaultContentType = "application/octet-stream",
        });
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = new Uri(app.Urls.First());
        return new RepositoryServer(app, new Uri($"http://{bound.Host}:{bound.Port}/"));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
